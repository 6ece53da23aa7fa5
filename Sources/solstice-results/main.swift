// solstice-results completes Check Runs from JobResult messages (SPEC §8); the consumer lands with its own issue.
#if canImport(Glibc)
    import Glibc
#endif

let usage = """
    usage: solstice-results [--help] [--version]

    Consumes JobResult messages (jobresult.v1) from RabbitMQ and completes the GitHub Check Run of each job,
    with its log uploaded to S3-compatible storage (SPEC §8). Not built yet: this command exits 2.

    environment (defaults in brackets):
      AMQP_URL [amqp://127.0.0.1:5672/%2f]  AMQP_EXCHANGE [solstice.jobs]  AMQP_DLX [solstice.dlx]
      AMQP_RESULTS_ROUTING_KEY [jobresult.v1]  AMQP_RESULTS_QUEUE [solstice.results.v1]
      AMQP_RESULTS_DLQ [solstice.results.v1.dlq]
      GITHUB_API_BASE [https://api.github.com]  GITHUB_APP_ID  GITHUB_APP_KEY_PATH or GITHUB_APP_KEY
      GITHUB_CHECK_NAME [Solstice CI]  LOGS_BASE_URL
      S3_ENDPOINT  S3_BUCKET  S3_REGION [us-east-1]  AWS_ACCESS_KEY_ID  AWS_SECRET_ACCESS_KEY  S3_PUBLIC_BASE_URL
      LOG_LEVEL [info]  LOG_FORMAT [text|json]
    """

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--version") {
    print("solstice-results 0.1.0")
    exit(0)
}
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
print("solstice-results: not built yet (consumes solstice.results.v1 and completes Check Runs, SPEC §8)")
exit(2)
