// Package containerimage tests the service's container images (service/Dockerfile,
// targets server and lambda) as built and run: the server as non-root with file://
// buckets mounted from the host, the Lambda image under the AWS Lambda Runtime
// Interface Emulator with API Gateway HTTP API payload v2 events.
//
// scripts/test-images builds the images and runs these tests with their names in
// SERVEBENCH_SERVER_IMAGE and SERVEBENCH_LAMBDA_IMAGE (and the docker CLI in
// SERVEBENCH_DOCKER); without the names the tests skip.
package containerimage
