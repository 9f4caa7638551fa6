package cloudevents

import (
	"mime"
	"strings"
)

// MediaType returns the media type of a content type, without its
// parameters, lowercased, as [mime.ParseMediaType] does, and that
// function's error for what is not a content type. A content type that is
// already a bare lowercase type/subtype, as codecs return, is taken as it
// is.
func MediaType(contentType string) (string, error) {
	slash := strings.IndexByte(contentType, '/')
	simple := slash > 0 && slash < len(contentType)-1 && strings.LastIndexByte(contentType, '/') == slash
	for i := 0; simple && i < len(contentType); i++ {
		c := contentType[i]
		simple = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '/' || strings.IndexByte("!#$&^_.+-", c) >= 0
	}
	if simple {
		return contentType, nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	return mediaType, err
}

// IsJSON reports whether the media type (lowercase, without parameters)
// declares JSON content: its subtype is "json" or ends in "+json", as the
// CloudEvents JSON format defines.
func IsJSON(mediaType string) bool {
	_, sub, ok := strings.Cut(mediaType, "/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}
