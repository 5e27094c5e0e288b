package results

// Deployment is what one target ran on, as deployed: filled from a stack's outputs
// by `servebench cloud` (and by `run -stack`), and by `local` for its own
// deployments. The report prices a target from it, never from guesses.
type Deployment struct {
	Platform string `json:"platform"` // "ecs", "lambda", "cloudfunctions", "local"
	Stack    string `json:"stack,omitempty"`
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint"` // the base URL measured

	// Serverful.
	InstanceType string `json:"instance_type,omitempty"`
	MinInstances int    `json:"min_instances,omitempty"`
	MaxInstances int    `json:"max_instances,omitempty"`
	TaskCPU      int    `json:"task_cpu,omitempty"` // CPU units
	TaskMemoryMB int    `json:"task_memory_mb,omitempty"`

	// Serverless.
	MemoryMB     int    `json:"memory_mb,omitempty"` // the function's memory size
	Architecture string `json:"architecture,omitempty"`
	// Functions maps a route ("/predict", "/faces/train") to the URL serving it,
	// where each route is its own function (Cloud Functions).
	Functions map[string]string `json:"functions,omitempty"`
}
