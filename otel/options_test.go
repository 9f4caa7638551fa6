package eventbusotel_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	eventbusotel "github.com/busline/eventbus/otel"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for name, opt := range map[string]eventbusotel.Option{
		"nil option":          nil,
		"nil tracer provider": eventbusotel.WithTracerProvider(nil),
		"nil meter provider":  eventbusotel.WithMeterProvider(nil),
		"nil propagator":      eventbusotel.WithPropagator(nil),
		"empty system":        eventbusotel.WithSystem(""),
	} {
		t.Run(name, func(t *testing.T) {
			tel, err := eventbusotel.New(opt)
			require.ErrorIs(t, err, eventbusotel.ErrInvalidOption)
			require.Regexp(t, "^eventbusotel: ", err.Error())
			require.Nil(t, tel)
		})
	}
}

// With no options, New uses the global providers, which are no-ops until
// the program sets its own.
func TestNewWithDefaults(t *testing.T) {
	tel, err := eventbusotel.New()
	require.NoError(t, err)
	require.NotNil(t, tel)
}
