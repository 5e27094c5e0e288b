package stacks

// Every taggable AWS resource of a stack carries the stack's tags: the aws
// provider adds them from aws:defaultTags in the committed stack files, so no
// component can forget them, and `servebench cloud`'s leftover check finds by
// them whatever a teardown left.
const (
	KeyAWSDefaultTags = "aws:defaultTags"
	TagStack          = "servebench:stack"
	TagProject        = "servebench:project"
)

// DefaultTags are the tags of a stack of project.
func DefaultTags(project, stack string) map[string]string {
	return map[string]string{TagStack: stack, TagProject: project}
}
