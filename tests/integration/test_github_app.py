"""SPEC §4 (re-runs), §5 and §7's Check Run rule, through nginx → solstice-fcgi → RabbitMQ with the App configured
against the strict GitHub stand-in (tests/github_standin), which checks the App JWT, installation tokens and every
Checks body as GitHub does."""
import concurrent.futures
import json
import os
import time
import uuid

import pytest

from support import stack as stack_env
from support.payloads import new_sha, payload
from support.topology import NAMESPACE

REPO = "Codertocat/Hello-World"
INSTALLATION = 1

THREE_JOBS = """workflow name="CI" {
    job "lint" runs_on="ubuntu-24.04" {
        script ".solstice/lint.sh"
        step "fmt" { run "cargo fmt --check" }
    }
    job "build" runs-on="omnios-r151054" script=".solstice/job.sh"
    job id="test" {
        runs-on "debian-12"
    }
}
"""


@pytest.fixture
def gh(clean):
    url = os.environ.get("STACK_STANDIN_URL")
    if not url:
        pytest.fail("the GitHub stand-in is not part of this stack")
    g = stack_env.standin(url)
    # Not reset(): that would also revoke the tokens the responder holds. Every test uses its own commits.
    g.clear_requests()
    g.clear_faults()
    g.set_installations({REPO: INSTALLATION})
    return g


def fresh_installation(gh):
    """A repository on an installation nobody has a token for yet, for counting token requests."""
    installation = 100_000 + int(uuid.uuid4().int % 1_000_000)
    repo = f"org{installation}/repo"
    gh.set_installations({repo: installation})
    return repo, installation


def push(sha, installation=True, repo=None, installation_id=None):
    body = json.loads(payload("push.with-new-branch.json"))
    body["after"] = sha
    if not installation:
        body.pop("installation", None)
    if installation_id:
        body["installation"]["id"] = installation_id
    if repo:
        owner, name = repo.split("/")
        body["repository"]["name"] = name
        body["repository"]["full_name"] = repo
        body["repository"]["owner"]["login"] = owner
        body["repository"]["clone_url"] = f"https://github.com/{repo}.git"
    return json.dumps(body).encode()


def runs_for(gh, sha, count, timeout=10, repo=REPO):
    """The check runs on `sha`, waiting until `count` exist (they are created right after the answer)."""
    deadline = time.time() + timeout
    while True:
        runs = [r for r in gh.check_runs(repo) if r["head_sha"] == sha]
        if len(runs) >= count or time.time() > deadline:
            return runs
        time.sleep(0.05)


def requests_matching(gh, method, fragment):
    return [r for r in gh.requests() if r["method"] == method and fragment in r["path"]]


def test_three_job_workflow(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", THREE_JOBS)
    d = str(uuid.uuid4())
    r = clean.post(push(sha), delivery=d)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert [j["workflow_job_id"] for j in answer["jobs"]] == ["lint", "build", "test"]
    assert [j["runs_on"] for j in answer["jobs"]] == ["ubuntu-24.04", "omnios-r151054", "debian-12"]

    messages = clean.drain(expect=3)
    bodies = {b["workflow_job_id"]: b for _, b in messages}
    assert set(bodies) == {"lint", "build", "test"}
    assert {b["group_id"] for b in bodies.values()} == {answer["group_id"]}
    assert all(b["workflow_path"] == ".solstice/workflow.kdl" for b in bodies.values())
    assert bodies["lint"]["script_path"] == ".solstice/lint.sh"
    assert bodies["build"]["script_path"] == ".solstice/job.sh"
    assert bodies["test"]["script_path"] is None
    for job_id, body in bodies.items():
        assert body["request_id"] == str(uuid.uuid5(NAMESPACE, f"{d}/{job_id}"))
        assert body["commit_sha"] == sha

    runs = runs_for(gh, sha, 3)
    assert len(runs) == 3
    assert {r["external_id"] for r in runs} == {b["request_id"] for b in bodies.values()}
    assert {r["name"] for r in runs} == {"Solstice CI / lint", "Solstice CI / build", "Solstice CI / test"}
    assert all(r["status"] == "queued" for r in runs)
    for run in runs:
        assert run["details_url"] == f"http://logs.solstice.test/jobs/{run['external_id']}/logs"
    # The file was read at the exact commit, as raw content, with the installation's token.
    [read] = requests_matching(gh, "GET", "/contents/.solstice/workflow.kdl")
    assert read["query"]["ref"] in (sha, [sha])
    assert "raw" in read["headers"]["accept"]
    assert read["headers"]["x-github-api-version"] == "2022-11-28"
    assert read["headers"]["authorization"].startswith("token")


def test_no_workflow_gives_one_job_and_one_run(gh, clean):
    sha = new_sha()
    r = clean.post(push(sha), delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    [(_, body)] = clean.drain(expect=1)
    assert body["workflow_path"] is None and body["workflow_job_id"] is None
    [run] = runs_for(gh, sha, 1)
    assert run["name"] == "Solstice CI" and run["external_id"] == body["request_id"] and run["status"] == "queued"


def test_broken_workflow_gives_one_job_and_an_annotated_failure(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "lint"\njob "build" runs_on="x" {\n  script "a\n')
    r = clean.post(push(sha), delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    [(_, body)] = clean.drain(expect=1)
    assert body["workflow_job_id"] is None
    runs = runs_for(gh, sha, 2)
    failure = [r for r in runs if r["name"] == "Solstice CI / workflow"]
    assert len(failure) == 1
    failure = failure[0]
    assert failure["status"] == "completed" and failure["conclusion"] == "failure"
    assert "line 3" in failure["output"]["title"]
    [annotation] = failure["annotations"]
    assert annotation["path"] == ".solstice/workflow.kdl"
    assert annotation["start_line"] == 3 and annotation["annotation_level"] == "failure"
    queued = [r for r in runs if r["name"] == "Solstice CI"]
    assert len(queued) == 1 and queued[0]["external_id"] == body["request_id"]


def test_duplicate_job_ids_are_a_workflow_error(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\njob "a"\n')
    assert clean.post(push(sha), delivery=str(uuid.uuid4())).status_code == 202
    clean.drain(expect=1)
    runs = runs_for(gh, sha, 2)
    [failure] = [r for r in runs if r["name"] == "Solstice CI / workflow"]
    assert failure["annotations"][0]["start_line"] == 3
    assert "duplicate" in failure["output"]["summary"]


def test_kdl_1_workflow_works(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl",
                'job "lint" runs_on="ubuntu" script=".solstice/lint.sh"\njob "build" {\n  runs-on "omnios"\n}\n'
                'job "old" enabled=true { script r"C:\\path" }\n')
    r = clean.post(push(sha), delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    assert [j["workflow_job_id"] for j in r.json()["jobs"]] == ["lint", "build", "old"]
    assert len(clean.drain(expect=3)) == 3


def test_fork_pull_request_reports_on_the_base_repository(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "build"\n')
    pr = json.loads(payload("pull_request.opened.json"))
    pr["pull_request"]["head"]["sha"] = sha
    pr["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
    pr["pull_request"]["head"]["repo"]["clone_url"] = "https://github.com/forker/Hello-World.git"
    r = clean.post(json.dumps(pr).encode(), event="pull_request", delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    [(_, body)] = clean.drain(expect=1)
    assert body["repo_url"] == "https://github.com/forker/Hello-World.git"
    assert (body["repo_owner"], body["repo_name"]) == ("Codertocat", "Hello-World")
    assert body["workflow_job_id"] == "build"
    [run] = runs_for(gh, sha, 1)
    assert run["external_id"] == body["request_id"]
    assert requests_matching(gh, "GET", "/repos/Codertocat/Hello-World/contents/")


def test_installation_is_looked_up_when_the_payload_has_none(gh, clean):
    repo, _ = fresh_installation(gh)
    shas = [new_sha("1"), new_sha("2")]
    for sha in shas:
        gh.add_file(repo, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\n')
        r = clean.post(push(sha, installation=False, repo=repo), delivery=str(uuid.uuid4()))
        assert r.status_code == 202 and len(r.json()["jobs"]) == 2
        assert len(runs_for(gh, sha, 2, repo=repo)) == 2
    lookups = requests_matching(gh, "GET", f"/repos/{repo}/installation")
    # Looked up with the App JWT, once: the installation is remembered for the next webhook.
    assert len(lookups) == 1 and lookups[0]["headers"]["authorization"].lower().startswith("bearer")
    clean.drain(expect=4)


def test_repository_without_installation_builds_without_checks(gh, clean):
    sha = new_sha()
    r = clean.post(push(sha, installation=False, repo="stranger/repo"), delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    [(_, body)] = clean.drain(expect=1)
    assert body["repo_owner"] == "stranger" and body["workflow_job_id"] is None
    time.sleep(0.5)
    assert gh.check_runs("stranger/repo") == []


def test_twenty_webhooks_one_token(gh, clean):
    repo, installation = fresh_installation(gh)
    shas = [new_sha(str(i)) for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(
            lambda s: clean.post(push(s, repo=repo, installation_id=installation),
                                 delivery=str(uuid.uuid4())).status_code, shas))
    assert statuses == [202] * 20
    assert len(clean.drain(expect=20)) == 20
    for sha in shas:
        assert len(runs_for(gh, sha, 1, repo=repo)) == 1
    assert len(requests_matching(gh, "POST", f"/app/installations/{installation}/access_tokens")) == 1


def test_expired_token_is_renewed(gh, clean):
    repo, installation = fresh_installation(gh)
    assert clean.post(push(new_sha(), repo=repo, installation_id=installation),
                      delivery=str(uuid.uuid4())).status_code == 202
    time.sleep(0.5)
    gh.expire_tokens()
    sha = new_sha()
    gh.add_file(repo, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\n')
    r = clean.post(push(sha, repo=repo, installation_id=installation), delivery=str(uuid.uuid4()))
    assert r.status_code == 202 and len(r.json()["jobs"]) == 2  # the workflow was still read
    assert len(runs_for(gh, sha, 2, repo=repo)) == 2
    assert len(requests_matching(gh, "POST", f"/app/installations/{installation}/access_tokens")) == 2
    clean.drain(expect=3)


@pytest.mark.parametrize("status,headers", [
    (429, {"retry-after": "1"}),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "{reset}"}),
    (502, {}),
    (500, {}),
])
def test_rate_limits_and_5xx_still_queue_the_workflow(gh, clean, status, headers):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\n')
    headers = {k: v.replace("{reset}", str(int(time.time()) + 1)) for k, v in headers.items()}
    gh.add_fault("/contents/", status, method="GET", count=1, headers=headers)
    started = time.time()
    r = clean.post(push(sha), delivery=str(uuid.uuid4()))
    assert r.status_code == 202, r.text
    assert len(r.json()["jobs"]) == 2, "the contents call was retried after the fault"
    assert time.time() - started < 8
    assert len(clean.drain(expect=2)) == 2
    reads = requests_matching(gh, "GET", "/contents/")
    statuses = [r["status"] for r in reads]
    assert status in statuses and statuses[-1] == 200, statuses


def test_github_down_defers_never_guesses_one_job(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\n')
    gh.add_fault("/contents/", 500, method="GET", count=1000)
    d = str(uuid.uuid4())
    r = clean.post(push(sha), delivery=d)
    assert r.status_code == 202 and r.json()["deferred"] is True and r.json()["jobs"] == [], r.text
    assert clean.drain(timeout=1.0) == []  # no default job in its place
    gh.clear_faults()
    bodies = [b for _, b in clean.drain(expect=2, timeout=15)]
    assert sorted(b["workflow_job_id"] for b in bodies) == ["a", "b"]
    assert {b["request_id"] for b in bodies} == {str(uuid.uuid5(NAMESPACE, f"{d}/{j}")) for j in "ab"}


def test_checks_failure_does_not_fail_the_webhook(gh, clean):
    sha = new_sha()
    gh.add_fault("/check-runs$", 500, method="POST", count=1)
    r = clean.post(push(sha), delivery=str(uuid.uuid4()))
    assert r.status_code == 202
    assert len(clean.drain(expect=1)) == 1
    # The outbox tries again (5 s later): one run in the end, not two.
    runs = runs_for(gh, sha, 1, timeout=15)
    assert len(runs) == 1 and runs[0]["status"] == "queued"


def test_redelivery_reuses_the_check_run(gh, clean):
    sha = new_sha()
    d = str(uuid.uuid4())
    assert clean.post(push(sha), delivery=d).status_code == 202
    assert len(runs_for(gh, sha, 1)) == 1
    assert clean.post(push(sha), delivery=d).status_code in (200, 202)
    time.sleep(0.5)
    assert len(runs_for(gh, sha, 2, timeout=0.5)) == 1
    clean.drain(timeout=1)


def test_existing_run_found_beyond_the_first_page(gh, clean):
    sha = new_sha()
    d = str(uuid.uuid4())
    request_id = str(uuid.uuid5(NAMESPACE, f"{d}/default"))
    gh.seed_check_runs(REPO, count=230, name="other {i}", head_sha=sha, status="completed", conclusion="success")
    gh.seed_check_runs(REPO, count=1, name="Solstice CI", head_sha=sha, external_id=request_id, status="queued")
    assert clean.post(push(sha), delivery=d).status_code == 202
    clean.drain(expect=1)
    time.sleep(0.8)
    mine = [r for r in gh.check_runs(REPO) if r["head_sha"] == sha and r.get("external_id") == request_id]
    assert len(mine) == 1
    pages = requests_matching(gh, "GET", "/check-runs")
    assert len(pages) >= 3  # 231 runs at 100 a page, followed through the Link header


def check_suite_event(sha):
    body = json.loads(payload("check_suite.rerequested.json"))
    body["check_suite"]["head_sha"] = sha
    body["installation"]["id"] = INSTALLATION
    return json.dumps(body).encode()


def check_run_event(sha, name):
    body = json.loads(payload("check_run.rerequested.json"))
    body["check_run"]["head_sha"] = sha
    body["check_run"]["name"] = name
    body["repository"] = json.loads(payload("push.with-new-branch.json"))["repository"]
    body["installation"]["id"] = INSTALLATION
    return json.dumps(body).encode()


def test_check_suite_rerequested_requeues_the_whole_workflow(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", THREE_JOBS)
    assert clean.post(push(sha), delivery=str(uuid.uuid4())).status_code == 202
    first = {b["request_id"] for _, b in clean.drain(expect=3)}
    runs_for(gh, sha, 3)
    r = clean.post(check_suite_event(sha), event="check_suite", delivery=str(uuid.uuid4()))
    assert r.status_code == 202, r.text
    again = clean.drain(expect=3)
    assert {b["workflow_job_id"] for _, b in again} == {"lint", "build", "test"}
    assert not first & {b["request_id"] for _, b in again}
    runs = runs_for(gh, sha, 6)
    assert len(runs) == 6 and sum(r["status"] == "queued" for r in runs) == 6


def test_check_run_rerequested_requeues_only_that_job(gh, clean):
    sha = new_sha()
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", THREE_JOBS)
    assert clean.post(push(sha), delivery=str(uuid.uuid4())).status_code == 202
    clean.drain(expect=3)
    runs_for(gh, sha, 3)
    r = clean.post(check_run_event(sha, "Solstice CI / build"), event="check_run", delivery=str(uuid.uuid4()))
    assert r.status_code == 202, r.text
    [(_, body)] = clean.drain(expect=1)
    assert body["workflow_job_id"] == "build" and body["runs_on"] == "omnios-r151054"
    runs = runs_for(gh, sha, 4)
    assert [r["name"] for r in runs].count("Solstice CI / build") == 2


def test_requested_actions_are_ignored(gh, clean):
    body = json.loads(check_suite_event(new_sha()))
    body["action"] = "requested"
    r = clean.post(json.dumps(body).encode(), event="check_suite", delivery=str(uuid.uuid4()))
    assert r.status_code == 204 and "requested" in r.headers["X-Solstice-Ignored"]


def test_401_right_after_minting_is_retried(gh, clean):
    # GitHub can refuse a token for a moment after minting it (replication lag): the call is retried, not failed.
    repo, installation = fresh_installation(gh)
    sha = new_sha()
    gh.add_file(repo, sha, ".solstice/workflow.kdl", 'job "a"\njob "b"\n')
    gh.add_fault("/contents/", 401, method="GET", count=1, body={"message": "Bad credentials"})
    r = clean.post(push(sha, repo=repo, installation_id=installation), delivery=str(uuid.uuid4()))
    assert r.status_code == 202 and len(r.json()["jobs"]) == 2, r.text
    reads = requests_matching(gh, "GET", "/contents/")
    assert [x["status"] for x in reads] == [401, 200]
    assert len(requests_matching(gh, "POST", f"/app/installations/{installation}/access_tokens")) == 1
    clean.drain(expect=2)
