#!/usr/bin/env bash
# Refreshes the shipped referrer spam list, src/enrich/referrer_spam.txt, from
# the newest spammers.txt of matomo-org/referrer-spam-list (public domain), for
# the next build; the source, the commit and the date go at the file's head.
# Needs network access to GitHub and python3; CI never runs it (the tests read
# the list in the repository).
#
#   bash deploy/refresh-referrer-spam.sh
#
# Between releases, add or remove hosts in the configuration instead:
# [filter] referrer_spam_add = ["spam.example"], referrer_spam_remove = [...].
set -euo pipefail
cd "$(dirname "$0")/.."
repo=matomo-org/referrer-spam-list
python3 - "$repo" src/enrich/referrer_spam.txt <<'PY'
import json, re, sys, urllib.request

repo, target = sys.argv[1], sys.argv[2]
def get(url):
    request = urllib.request.Request(url, headers={"User-Agent": "beaconhouse-refresh"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()
commit = json.loads(get(f"https://api.github.com/repos/{repo}/commits/master"))
sha, date = commit["sha"], commit["commit"]["committer"]["date"][:10]
hosts = [line.strip().lower() for line in get(f"https://raw.githubusercontent.com/{repo}/{sha}/spammers.txt").splitlines()]
hosts = sorted({h for h in hosts if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", h)})
if len(hosts) < 1000:
    sys.exit(f"only {len(hosts)} hosts in {repo}@{sha[:7]}: not replacing the list")
head = f"""# Referrer spam hosts, one a line: a hit whose referrer is one of them, or a
# subdomain of one, is not counted (enrich::spam).
# Source: {repo}, spammers.txt, at commit {sha[:7]}
# ({date}); Public Domain (its README), CC0-1.0 (its composer.json).
# Refresh: bash deploy/refresh-referrer-spam.sh (fetches the newest list;
# CI never does). Add or remove hosts without a release: [filter]
# referrer_spam_add / referrer_spam_remove.
"""
with open(target, "w") as out:
    out.write(head + "\n".join(hosts) + "\n")
print(f"{target}: {len(hosts)} hosts from {repo}@{sha[:7]} ({date}); rebuild to use them")
PY
