package onnxrt

// apiVersion is the ORT_API_VERSION requested from OrtGetApiBase()->GetApi: 24, the
// version of the header the indices below were counted from
// (github.com/yalue/onnxruntime_go@v1.27.0/onnxruntime_c_api.h). A library answers for
// any version up to its own (1.30.0 supports up to 30), and OrtApi is append-only, so
// these indices hold for every release since 1.24.
const apiVersion = 24

// fn is one entry of the OrtApi function table: its index (the declaration's position
// in struct OrtApi) and its name, for errors.
type fn struct {
	index int
	name  string
}

// The entries the package calls, in table order.
var (
	fnGetErrorCode                   = fn{1, "GetErrorCode"}
	fnGetErrorMessage                = fn{2, "GetErrorMessage"}
	fnCreateEnv                      = fn{3, "CreateEnv"}
	fnCreateSessionFromArray         = fn{8, "CreateSessionFromArray"}
	fnRun                            = fn{9, "Run"}
	fnCreateSessionOptions           = fn{10, "CreateSessionOptions"}
	fnSetSessionExecutionMode        = fn{13, "SetSessionExecutionMode"}
	fnSetIntraOpNumThreads           = fn{24, "SetIntraOpNumThreads"}
	fnSetInterOpNumThreads           = fn{25, "SetInterOpNumThreads"}
	fnSessionGetInputCount           = fn{30, "SessionGetInputCount"}
	fnSessionGetOutputCount          = fn{31, "SessionGetOutputCount"}
	fnSessionGetInputTypeInfo        = fn{33, "SessionGetInputTypeInfo"}
	fnSessionGetOutputTypeInfo       = fn{34, "SessionGetOutputTypeInfo"}
	fnSessionGetInputName            = fn{36, "SessionGetInputName"}
	fnSessionGetOutputName           = fn{37, "SessionGetOutputName"}
	fnCreateRunOptions               = fn{39, "CreateRunOptions"}
	fnRunOptionsSetTerminate         = fn{46, "RunOptionsSetTerminate"}
	fnCreateTensorWithDataAsOrtValue = fn{49, "CreateTensorWithDataAsOrtValue"}
	fnCastTypeInfoToTensorInfo       = fn{55, "CastTypeInfoToTensorInfo"}
	fnGetTensorElementType           = fn{60, "GetTensorElementType"}
	fnGetDimensionsCount             = fn{61, "GetDimensionsCount"}
	fnGetDimensions                  = fn{62, "GetDimensions"}
	fnCreateCpuMemoryInfo            = fn{69, "CreateCpuMemoryInfo"}
	fnAllocatorFree                  = fn{76, "AllocatorFree"}
	fnGetAllocatorWithDefaultOptions = fn{78, "GetAllocatorWithDefaultOptions"}
	fnReleaseEnv                     = fn{92, "ReleaseEnv"}
	fnReleaseStatus                  = fn{93, "ReleaseStatus"}
	fnReleaseMemoryInfo              = fn{94, "ReleaseMemoryInfo"}
	fnReleaseSession                 = fn{95, "ReleaseSession"}
	fnReleaseValue                   = fn{96, "ReleaseValue"}
	fnReleaseRunOptions              = fn{97, "ReleaseRunOptions"}
	fnReleaseTypeInfo                = fn{98, "ReleaseTypeInfo"}
	fnReleaseSessionOptions          = fn{100, "ReleaseSessionOptions"}
	fnAddSessionConfigEntry          = fn{130, "AddSessionConfigEntry"}
)

// apiLen is how many entries of the table the package reads: up to the last one above.
const apiLen = 131

// Enum values of onnxruntime_c_api.h.
const (
	loggingLevelError       = 3 // ORT_LOGGING_LEVEL_ERROR
	executionSequential     = 0 // ORT_SEQUENTIAL
	arenaAllocator          = 1 // OrtArenaAllocator
	memTypeDefault          = 0 // OrtMemTypeDefault
	elementTypeFloat        = 1 // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT
	apiBaseGetAPI           = 0 // OrtApiBase.GetApi
	apiBaseGetVersionString = 1 // OrtApiBase.GetVersionString
)
