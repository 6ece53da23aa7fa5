-- wrk script: signed GitHub webhooks from $BENCH_DIR/index.txt ("file signature event" per line), each request
-- with a unique X-GitHub-Delivery so that delivery de-duplication measures nothing but real work.
local dir = os.getenv("BENCH_DIR")
local run = os.getenv("BENCH_RUN") or "r"
local path = os.getenv("BENCH_PATH") or "/webhooks/github"
local reqs = {}
local counter = 0

function setup(thread)
    setup_count = (setup_count or 0) + 1
    thread:set("tid", setup_count)
end

function init(args)
    local index = assert(io.open(dir .. "/index.txt"))
    for line in index:lines() do
        local file, sig, event = line:match("(%S+) (%S+) (%S+)")
        local f = assert(io.open(dir .. "/" .. file, "rb"))
        table.insert(reqs, { body = f:read("*a"), sig = sig, event = event })
        f:close()
    end
    index:close()
end

function request()
    counter = counter + 1
    local r = reqs[(counter % #reqs) + 1]
    return wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["X-GitHub-Event"] = r.event,
        ["X-Hub-Signature-256"] = r.sig,
        ["X-GitHub-Delivery"] = string.format("%s-%d-%d", run, tid, counter),
    }, r.body)
end
