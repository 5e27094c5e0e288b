package results

// Capacity is what the rate scenario's search found for one target, function and
// scaling mode: the highest arrival rate held within the objective, and what
// stopped it going higher. The request records of the search are in the file too
// (scenario "rate", group "<rate>/s"), so every figure here can be checked
// against them.
type Capacity struct {
	Kind     string `json:"kind"`     // always "capacity"
	Scenario string `json:"scenario"` // "rate"
	Target   string `json:"target"`
	Function string `json:"function"` // "predict"
	// Scaling is ScalingHeld, ScalingOn or ScalingServerless.
	Scaling string `json:"scaling"`
	// Instances is what a serverful target held with (ScalingHeld: its minimum
	// size); 0 when not known.
	Instances int `json:"instances,omitempty"`
	// RatePerS is the highest arrival rate held (requests/s); 0 when none was.
	RatePerS float64 `json:"rate_per_s"`
	// MissedPerS is the lowest rate tried and not held; 0 when none was missed.
	MissedPerS float64 `json:"missed_per_s,omitempty"`
	// LimitedBy is one of the Limited* constants.
	LimitedBy   string  `json:"limited_by"`
	Percentile  float64 `json:"percentile"`
	ObjectiveMS float64 `json:"objective_ms"`
	MaxErrors   float64 `json:"max_errors"` // fraction of failed requests a rate may have
	StepS       float64 `json:"step_s"`     // seconds each probed rate ran
}

// Capacity.Scaling values.
const (
	ScalingHeld       = "held"       // serverful at its minimum size, scaling held off
	ScalingOn         = "on"         // serverful with its scaling on (or one that cannot be held)
	ScalingServerless = "serverless" // a serverless platform, until its cap or throttling
)

// Capacity.LimitedBy values: why the rate above RatePerS was not held, or why the
// search stopped without missing one.
const (
	LimitedObjective = "objective" // the latency percentile passed the objective
	LimitedErrors    = "errors"    // more failures than the error budget
	LimitedThrottled = "throttled" // the platform refused (429, 503) beyond the error budget
	LimitedCap       = "cap"       // the search's top rate was held
	LimitedTime      = "time"      // the search's time budget ran out before a rate was missed
)
