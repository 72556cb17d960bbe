package stateward

// SetJitter replaces the random part of the waiter-limit backoff (a number in [0, 1)) until the
// returned function restores it, so that a test can time the backoffs themselves.
func SetJitter(f func() float64) (restore func()) {
	saved := jitter
	jitter = f
	return func() { jitter = saved }
}
