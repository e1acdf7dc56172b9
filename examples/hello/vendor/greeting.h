/* A vendored third-party dependency, pinned by sha256 in pipeline.yaml. */
#define GREETING "hello from the chainseal factory"
