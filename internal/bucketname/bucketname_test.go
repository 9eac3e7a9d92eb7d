package bucketname

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme, name string
		why          string // "" when accepted
	}{
		{"s3", "my-ckpts", ""},
		{"gs", "my_ckpts", ""},
		{"s3", "my_ckpts", `the character '_'`},
		{"s3", "My-Ckpts", "uppercase letters"},
		{"gs", "ab", "2 characters"},
		{"s3", "-ckpts", "it must start and end with a letter or a digit"},
		{"s3", "a..b", `".."`},
		{"s3", "10.0.0.1", "it is an IP address"},
	}
	for _, tt := range tests {
		err := Check(tt.scheme, tt.name)
		var e *Error
		switch {
		case tt.why == "" && err != nil:
			t.Errorf("Check(%s, %q) = %v, want it accepted", tt.scheme, tt.name, err)
		case tt.why != "" && (!errors.As(err, &e) || e.Why != tt.why || e.Name != tt.name):
			t.Errorf("Check(%s, %q) = %v, want an *Error saying %s", tt.scheme, tt.name, err, tt.why)
		}
	}
}
