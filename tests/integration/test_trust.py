"""SPEC §10 (trust, approval, ChatOps) and §4's skip markers and drafts, through nginx → solstice-fcgi → RabbitMQ
with the App configured against the GitHub stand-in, which delivers clicks and comments as GitHub does (signed, to
the stack's nginx) and answers the permission, pull-request and commit lookups. Each test counts what ends up on
the jobs queue and on GitHub."""
import json
import random
import time
import uuid

import pytest

from responders import OwnResponder
from support import stack as stack_env
from support.payloads import new_sha, payload

REPO = "Codertocat/Hello-World"
INSTALLATION = 1
APP_ID = 4242
NAME = "Solstice CI"
TWO_JOBS = 'job "lint"\njob "build"\n'


@pytest.fixture
def gh(clean):
    g = stack_env.standin()
    g.clear_requests()
    g.clear_faults()
    g.set_installations({REPO: INSTALLATION})
    g.set_webhook(clean.url + clean.path, clean.secret.decode())
    return g


def pull_number():
    return random.randint(1_000, 1_000_000_000)


def pull_request(sha, number, author="stranger", association="NONE", fork=True, draft=False, title="Fix a typo",
                 action="opened"):
    body = json.loads(payload("pull_request.opened.json"))
    body["action"], body["number"] = action, number
    pr = body["pull_request"]
    pr.update(number=number, title=title, draft=draft, author_association=association,
              html_url=f"https://github.com/{REPO}/pull/{number}")
    pr["user"]["login"] = author
    pr["head"]["sha"] = sha
    if fork:
        pr["head"]["repo"].update(id=999_000 + number % 1000, full_name=f"{author}/Hello-World",
                                  clone_url=f"https://github.com/{author}/Hello-World.git")
    return json.dumps(body).encode()


def seed_pull(gh, sha, number, author="stranger", fork=True, **fields):
    gh.add_pull(REPO, number, sha, author, head_repo=f"{author}/Hello-World" if fork else REPO, **fields)
    gh.add_commit(REPO, sha, fields.get("title", "Fix a typo"))


def runs_on(gh, sha, count=1, timeout=10, where=lambda r: True):
    """This commit's check runs, waiting until `count` match `where` (they are written after the answer)."""
    deadline = time.time() + timeout
    while True:
        runs = [r for r in gh.check_runs(REPO) if r["head_sha"] == sha]
        if len([r for r in runs if where(r)]) >= count or time.time() > deadline:
            return runs
        time.sleep(0.05)


def approval_run(gh, sha, number, timeout=20):
    runs = runs_on(gh, sha, timeout=timeout, where=lambda r: r["external_id"] == f"solstice-approval/{number}")
    [run] = [r for r in runs if r["external_id"] == f"solstice-approval/{number}"]
    return run


def jobs(stack, expect=None, timeout=3.0):
    return [body for _, body in stack.drain(expect=expect, timeout=timeout)]


def send(stack, body, event="pull_request", delivery=None):
    """A signed delivery through nginx, with its own GUID unless given."""
    return stack.post(body, event=event, delivery=delivery or str(uuid.uuid4()))


def ignored(answer):
    """The X-Solstice-Ignored reason of a delivery the stand-in made (its header names keep their case)."""
    return {k.lower(): v for k, v in answer["headers"].items()}.get("x-solstice-ignored")


def lookups(gh, fragment):
    return [r for r in gh.requests() if r["method"] == "GET" and fragment in r["path"]]


def test_untrusted_fork_pull_request_waits_for_approval(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    d = str(uuid.uuid4())
    r = clean.post(pull_request(sha, number), event="pull_request", delivery=d)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["jobs"] == [] and answer["approval_required"] is True and answer["delivery"] == d
    assert jobs(clean, timeout=1.0) == []
    run = approval_run(gh, sha, number)
    assert (run["name"], run["status"], run["conclusion"]) == (NAME, "completed", "action_required")
    assert run["output"]["title"] == "Approval required" and "@stranger" in run["output"]["summary"]
    assert run["details_url"] == f"https://github.com/{REPO}/pull/{number}"
    assert run["actions"] == [{"label": "Approve and run", "description": "Run the jobs of this commit",
                               "identifier": "approve"}]
    # The permission API was asked, since the payload did not decide; a redelivery is a duplicate.
    assert len(lookups(gh, "/collaborators/stranger/permission")) == 1
    again = clean.post(pull_request(sha, number), event="pull_request", delivery=d)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len([r for r in runs_on(gh, sha) if r["external_id"] == f"solstice-approval/{number}"]) == 1


def test_approval_by_a_writer_builds_that_sha_once(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", TWO_JOBS)
    gh.set_collaborator(REPO, "maintainer", "write")
    assert send(clean, pull_request(sha, number)).json()["approval_required"] is True
    run = approval_run(gh, sha, number)

    click = gh.click(run["id"], "approve", "maintainer")
    assert click["status"] == 202, click
    assert click["json"]["approved_by"] == "maintainer"
    queued = jobs(clean, expect=2)
    assert sorted(j["workflow_job_id"] for j in queued) == ["build", "lint"]
    for job in queued:
        assert (job["commit_sha"], job["event"], job["pull_request_number"], job["approved_by"]) == (
            sha, "check_run", number, "maintainer")
        assert job["repo_url"] == "https://github.com/stranger/Hello-World.git"
        assert job["request_id"] in {j["request_id"] for j in click["json"]["jobs"]}
    run = approval_run(gh, sha, number)
    runs = runs_on(gh, sha, count=1, where=lambda r: r["conclusion"] == "success")
    run = [r for r in runs if r["id"] == run["id"]][0]
    assert (run["conclusion"], run["output"]["title"], run["actions"]) == ("success", "Approved by maintainer", [])
    assert len(runs_on(gh, sha, count=3)) == 3  # the approval run and one queued run per job

    # Approving again (a comment this time) builds nothing new: the same answer, marked duplicate.
    again = gh.comment(REPO, number, "maintainer", "/ok-to-test")
    assert again["status"] == 200 and again["json"]["duplicate"] is True
    assert again["json"]["jobs"] == click["json"]["jobs"]
    assert jobs(clean, timeout=1.0) == []


def test_approval_by_a_reader_changes_nothing(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    gh.set_collaborator(REPO, "reader", "triage")
    send(clean, pull_request(sha, number))
    run = approval_run(gh, sha, number)
    click = gh.click(run["id"], "approve", "reader")
    assert click["status"] == 204 and "no write permission" in ignored(click)
    assert jobs(clean, timeout=1.0) == []
    time.sleep(0.5)
    run = approval_run(gh, sha, number)
    assert run["conclusion"] == "action_required" and len(run["actions"]) == 1
    assert len(lookups(gh, "/collaborators/reader/permission")) == 1


def test_a_new_push_needs_a_new_approval(gh, clean):
    first, second, number = new_sha(), new_sha(), pull_number()
    seed_pull(gh, first, number)
    gh.set_collaborator(REPO, "maintainer", "admin")
    send(clean, pull_request(first, number))
    assert gh.click(approval_run(gh, first, number)["id"], "approve", "maintainer")["status"] == 202
    assert len(jobs(clean, expect=1)) == 1

    # The author pushes again: the new head waits for its own approval.
    seed_pull(gh, second, number)
    r = send(clean, pull_request(second, number, action="synchronize"))
    assert r.status_code == 202 and r.json()["approval_required"] is True
    assert jobs(clean, timeout=1.0) == []
    assert approval_run(gh, second, number)["conclusion"] == "action_required"

    # The approved commit pushed again (a force-push back) builds at once, naming its approver.
    seed_pull(gh, first, number)
    r = send(clean, pull_request(first, number, action="synchronize"))
    assert r.status_code == 202 and len(r.json()["jobs"]) == 1, r.text
    [job] = jobs(clean, expect=1)
    assert (job["commit_sha"], job["approved_by"], job["event"]) == (first, "maintainer", "pull_request")


def test_ok_to_test_comment_approves_the_head(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    gh.set_collaborator(REPO, "maintainer", "maintain")
    send(clean, pull_request(sha, number))
    approval_run(gh, sha, number)
    answer = gh.comment(REPO, number, "maintainer", "Thanks! Looks safe.\n/ok-to-test\n")
    assert answer["status"] == 202, answer
    [job] = jobs(clean, expect=1)
    assert (job["commit_sha"], job["event"], job["pull_request_number"], job["approved_by"]) == (
        sha, "issue_comment", number, "maintainer")
    runs = runs_on(gh, sha, where=lambda r: r["output"].get("title") == "Approved by maintainer")
    assert [r for r in runs if r["external_id"] == f"solstice-approval/{number}"][0]["conclusion"] == "success"
    assert len(lookups(gh, f"/pulls/{number}")) == 1


def test_retest_runs_only_the_failed_job(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number, author="maintainer", fork=False)
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "lint"\njob "build"\njob "test"\n')
    gh.set_collaborator(REPO, "maintainer", "write")
    gh.seed_check_runs(REPO, head_sha=sha, name=f"{NAME} / lint", status="completed", conclusion="failure",
                       external_id="earlier-lint")
    gh.seed_check_runs(REPO, head_sha=sha, name=f"{NAME} / build", status="completed", conclusion="success",
                       external_id="earlier-build")
    gh.seed_check_runs(REPO, head_sha=sha, name=f"{NAME} / test", status="in_progress", external_id="earlier-test")
    answer = gh.comment(REPO, number, "maintainer", "/retest")
    assert answer["status"] == 202, answer
    [job] = jobs(clean, expect=1)
    assert (job["workflow_job_id"], job["event"], job["approved_by"]) == ("lint", "issue_comment", "maintainer")
    assert [j["workflow_job_id"] for j in answer["json"]["jobs"]] == ["lint"]
    # Once lint's new run is queued, nothing has failed any more: another /retest finds nothing to run.
    assert len(runs_on(gh, sha, count=4)) == 4
    nothing = gh.comment(REPO, number, "maintainer", "/retest")
    assert nothing["status"] == 204 and "failed jobs" in ignored(nothing), nothing


def test_test_job_runs_that_job(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    gh.add_file(REPO, sha, ".solstice/workflow.kdl", TWO_JOBS)
    gh.set_collaborator(REPO, "maintainer", "write")
    answer = gh.comment(REPO, number, "maintainer", "/test build")
    assert answer["status"] == 202, answer
    [job] = jobs(clean, expect=1)
    assert (job["workflow_job_id"], job["commit_sha"], job["pull_request_number"]) == ("build", sha, number)
    unknown = gh.comment(REPO, number, "maintainer", "/test deploy")
    assert unknown["status"] == 204 and "deploy" in ignored(unknown)
    everything = gh.comment(REPO, number, "maintainer", "/test all")
    assert everything["status"] == 202
    assert sorted(j["workflow_job_id"] for j in jobs(clean, expect=2)) == ["build", "lint"]


def test_a_strangers_command_is_ignored(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number)
    gh.clear_requests()
    for text in ("/ok-to-test", "/retest", "/test all"):
        answer = gh.comment(REPO, number, "stranger", text)
        assert answer["status"] == 204 and "no write permission" in ignored(answer)
    assert jobs(clean, timeout=1.0) == []
    # Never answered with a comment, and nothing written on GitHub about this pull request (other tests' Check Runs
    # may still be leaving the outbox meanwhile).
    writes = [r for r in gh.requests() if r["method"] in ("POST", "PATCH") and (
        "/comments" in r["path"] or f"/{number}" in r["path"] or sha in json.dumps(r.get("body")))]
    assert writes == []
    chatter = gh.comment(REPO, number, "stranger", "Could someone please /retest this?")
    assert chatter["status"] == 204 and ignored(chatter) == "comment holds no command"


def test_private_org_member_is_recognised_through_the_permission_api(gh, clean):
    sha, other, number = new_sha(), new_sha(), pull_number()
    login = f"member{number}"
    gh.set_collaborator(REPO, login, "write")  # a private member: the payload says CONTRIBUTOR
    seed_pull(gh, sha, number, author=login)
    r = send(clean, pull_request(sha, number, author=login, association="CONTRIBUTOR"))
    assert r.status_code == 202 and len(r.json()["jobs"]) == 1, r.text
    [job] = jobs(clean, expect=1)
    assert (job["event"], job["pull_request_number"], job["approved_by"]) == ("pull_request", number, None)
    # The answer is cached per repository and login: a second pull request does not ask again.
    seed_pull(gh, other, number + 1, author=login)
    assert send(clean, pull_request(other, number + 1, author=login, association="CONTRIBUTOR")).status_code == 202
    assert len(jobs(clean, expect=1)) == 1
    assert len(lookups(gh, f"/collaborators/{login}/permission")) == 1


def test_permission_lookup_failing_defers_never_guesses(gh, clean):
    sha, number = new_sha(), pull_number()
    login = f"unknown{number}"
    seed_pull(gh, sha, number, author=login)
    gh.add_fault(f"/collaborators/{login}/permission", 502, count=1000)
    r = send(clean, pull_request(sha, number, author=login))
    assert r.status_code == 202 and r.json()["deferred"] is True, r.text
    assert jobs(clean, timeout=1.0) == []
    assert runs_on(gh, sha, timeout=0.5) == []  # neither trusted nor untrusted by default
    # GitHub answers again: the deferred delivery is decided then — a stranger, so it waits for approval.
    gh.clear_faults()
    assert approval_run(gh, sha, number)["conclusion"] == "action_required"
    assert jobs(clean, timeout=1.0) == []


def test_draft_then_ready_for_review(gh, clean):
    sha, number = new_sha(), pull_number()
    seed_pull(gh, sha, number, author="maintainer", fork=False)
    r = send(clean, pull_request(sha, number, author="maintainer", association="MEMBER", fork=False, draft=True))
    assert r.status_code == 204 and r.headers["x-solstice-ignored"] == "draft pull request (BUILD_DRAFTS=0)"
    assert jobs(clean, timeout=1.0) == []
    r = send(clean, pull_request(sha, number, author="maintainer", association="MEMBER", fork=False,
                                 action="ready_for_review"))
    assert r.status_code == 202, r.text
    [job] = jobs(clean, expect=1)
    assert (job["commit_sha"], job["event"], job["pull_request_number"]) == (sha, "pull_request", number)


def test_skip_ci_on_a_push(gh, clean):
    sha = new_sha()
    body = json.loads(payload("push.with-new-branch.json"))
    body["after"] = sha
    body["head_commit"]["message"] = "Update docs [skip ci]"
    d = str(uuid.uuid4())
    r = clean.post(json.dumps(body).encode(), event="push", delivery=d)
    assert r.status_code == 204 and r.headers["x-solstice-ignored"] == "skip marker [skip ci]"
    assert jobs(clean, timeout=1.0) == []
    [run] = runs_on(gh, sha)
    assert (run["name"], run["conclusion"], run["output"]["title"]) == (NAME, "neutral", "Skipped")
    assert "[skip ci]" in run["output"]["summary"]
    # GitHub's redelivery of it writes no second run.
    assert clean.post(json.dumps(body).encode(), event="push", delivery=d).status_code == 204
    time.sleep(0.5)
    assert len(runs_on(gh, sha)) == 1


@pytest.mark.parametrize("where", ["title", "head commit"])
def test_skip_marker_on_a_pull_request(gh, clean, where):
    sha, number = new_sha(), pull_number()
    title = "Docs [CI SKIP]" if where == "title" else "Docs"
    gh.add_pull(REPO, number, sha, "maintainer", head_repo=REPO, title=title)
    gh.add_commit(REPO, sha, "Docs\n\n[skip solstice]" if where == "head commit" else "Docs")
    r = send(clean, pull_request(sha, number, author="maintainer", association="MEMBER", fork=False, title=title))
    marker = "[ci skip]" if where == "title" else "[skip solstice]"
    assert r.status_code == 204 and r.headers["x-solstice-ignored"] == f"skip marker {marker}"
    assert jobs(clean, timeout=1.0) == []
    [run] = runs_on(gh, sha)
    assert (run["conclusion"], run["output"]["title"]) == ("neutral", "Skipped")


def test_trust_policy_everyone_builds_a_strangers_pull_request(gh, clean, tmp_path):
    responder = OwnResponder(clean, tmp_path, TRUST_POLICY="everyone")
    try:
        sha, number = new_sha(), pull_number()
        status, answer = responder.post(pull_request(sha, number), "pull_request")
        assert status == 202 and len(answer["jobs"]) == 1, answer
        [job] = jobs(clean, expect=1)
        assert (job["commit_sha"], job["approved_by"]) == (sha, None)
        assert lookups(gh, "/permission") == []  # the policy decided; nobody was asked
    finally:
        responder.stop()


def test_trusted_users_build_without_approval(gh, clean, tmp_path):
    responder = OwnResponder(clean, tmp_path, TRUSTED_USERS="dependabot[bot], Friend")
    try:
        sha, number = new_sha(), pull_number()
        status, answer = responder.post(pull_request(sha, number, author="friend"), "pull_request")
        assert status == 202 and len(answer["jobs"]) == 1, answer
        assert len(jobs(clean, expect=1)) == 1
        status, answer = responder.post(pull_request(new_sha(), number + 1, author="stranger"), "pull_request")
        assert status == 202 and answer["approval_required"] is True
        assert jobs(clean, timeout=1.0) == []
    finally:
        responder.stop()
