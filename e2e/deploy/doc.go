// Package deploy holds no production code: it only contains the tests that
// check the deployment files at the repository root (Dockerfile,
// .dockerignore and docker-compose.yml), so that `go test ./...` catches a
// broken or weakened deployment configuration without needing Docker.
package deploy
