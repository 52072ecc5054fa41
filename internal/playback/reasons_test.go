package playback

import "testing"

func TestReasonsTable(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r.Message() == "" || r.Status() < 400 {
			t.Errorf("%s: duplicate, or status %d message %q", r, r.Status(), r.Message())
		}
		seen[r] = true
	}
	if ReasonWrongSubject.Status() != 403 || ReasonExpired.Status() != 401 || ReasonUnavailable.Status() != 503 {
		t.Error("statuses differ from the documented ones")
	}
}
