"""What the integration tests (tests/integration), the GitHub stand-in's tests (tests/github_standin), scripts/demo.py
and bench/ share, so that none of them derives it again:

    signing      GitHub's webhook signature and headers (SPEC §3)
    topology     the exchanges, queues and routing keys the daemons declare (SPEC §6), the id namespace (SPEC §7)
    publishing   the broker as the orchestrator sees it: JobResults published, queues read back, counted, purged
    stack        where the stack `scripts/stack.sh up PROFILE` started is reached (the STACK_* of its stack.env)
    payloads     GitHub's sample payloads (shared/reference/github-payloads) and fresh commit SHAs

pytest finds this package through `pythonpath = tests` in pytest.ini; scripts put tests/ on sys.path themselves.
"""
