package eventstore

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateStreamName(t *testing.T) {
	for _, name := range []string{"a", "conversation-42", "order:2026/17", "user@example.com", "a+b_c.d", strings.Repeat("x", MaxStreamNameLen)} {
		if err := ValidateStreamName(name); err != nil {
			t.Errorf("ValidateStreamName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", " ", "a b", "tab\t", "é", "semi;colon", "quote\"", "back\\slash", "star*", "nul\x00", strings.Repeat("x", MaxStreamNameLen+1)} {
		err := ValidateStreamName(name)
		if !errors.Is(err, ErrInvalidStream) {
			t.Errorf("ValidateStreamName(%q) = %v, want ErrInvalidStream", name, err)
		} else if !strings.HasPrefix(err.Error(), "eventstore: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

// FuzzValidateStreamName checks that the validator accepts exactly the
// names of 1 to 255 bytes of its alphabet, and that every refusal matches
// ErrInvalidStream. The seed corpus is in testdata/fuzz.
func FuzzValidateStreamName(f *testing.F) {
	for _, seed := range []string{"order-1", "", "a b", "x:y/z@w+v", "\xff", strings.Repeat("a", 256)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateStreamName(name)
		valid := len(name) >= 1 && len(name) <= MaxStreamNameLen
		for i := 0; i < len(name) && valid; i++ {
			valid = strings.IndexByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+", name[i]) >= 0
		}
		if valid != (err == nil) {
			t.Fatalf("ValidateStreamName(%q) = %v, want valid=%v", name, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidStream) {
			t.Fatalf("ValidateStreamName(%q) = %v, which does not match ErrInvalidStream", name, err)
		}
	})
}
