package eventbus

import "fmt"

// maxNameLen bounds topic and subscriber names so that they fit the subject
// and consumer-name limits of the brokers a transport may map them to.
const maxNameLen = 255

// ValidateTopicName reports whether name is a valid topic name: one or more
// tokens separated by '.', each token one or more ASCII letters, digits, '-'
// or '_', at most 255 bytes in all. The characters '*' and '>' are reserved
// for pattern subscriptions. The error matches [ErrInvalidTopic].
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidTopic)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidTopic, len(name), maxNameLen)
	}
	tokenStart := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if i == tokenStart {
				return fmt.Errorf("%w: %q has an empty token at byte %d", ErrInvalidTopic, name, i)
			}
			tokenStart = i + 1
		case c == '*' || c == '>':
			return fmt.Errorf("%w: %q uses the reserved wildcard %q", ErrInvalidTopic, name, c)
		case !isNameByte(c):
			return fmt.Errorf("%w: %q has the character %q at byte %d", ErrInvalidTopic, name, c, i)
		}
	}
	if tokenStart == len(name) {
		return fmt.Errorf("%w: %q ends with an empty token", ErrInvalidTopic, name)
	}
	return nil
}

// ValidateSubscriberName reports whether name is a valid subscriber name:
// one to 255 ASCII letters, digits, '-' or '_'. Subscriber names become
// durable consumer names on brokers, which is why '.' is not allowed. The
// error matches [ErrInvalidSubscriber].
func ValidateSubscriberName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidSubscriber)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidSubscriber, len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("%w: %q has the character %q at byte %d", ErrInvalidSubscriber, name, name[i], i)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
