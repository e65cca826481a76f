#!/usr/bin/env bash
# What may be deployed: `version` must be a tag, or a commit (SHA or branch) reachable from the
# default branch, unless --allow-unreachable is given (then any ref that resolves, e.g.
# refs/pull/N/head, with a warning). Run it in a clone of the repository with the default branch
# and tags fetched (actions/checkout with fetch-depth: 0). Prints `commit=<sha>` and
# `kind=tag|commit|unreachable` (also to $GITHUB_OUTPUT when set); --checkout also checks the
# resolved commit out (detached), so the release tree is exactly what was checked.
#
# usage: check-deploy-version.sh --version V --default-branch B [--repo DIR] [--allow-unreachable] [--checkout]
# exit: 0 allowed, 1 refused (the message says why and what is valid), 2 usage error.
set -euo pipefail

version='' default_branch='' repo='.' allow=false checkout=false
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2-}; shift 2 ;;
    --default-branch) default_branch=${2-}; shift 2 ;;
    --repo) repo=${2-}; shift 2 ;;
    --allow-unreachable) allow=true; shift ;;
    --checkout) checkout=true; shift ;;
    *) echo "::error::check-deploy-version: unknown argument ${1@Q}; valid: --version, --default-branch, --repo, --allow-unreachable, --checkout" >&2; exit 2 ;;
  esac
done

fail() { # code message
  echo "::error::$2"
  exit "$1"
}
valid='valid: a tag (e.g. v1.4.2), or a commit SHA or branch whose commit is reachable from the default branch'
[ -n "$default_branch" ] || fail 2 'check-deploy-version: --default-branch is required (e.g. main)'
[ -n "$version" ] || fail 2 "input \"version\": empty; $valid"
# A ref name git would accept, and nothing that looks like an option, a range or a reflog entry.
if [[ ! "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._/+-]*$ ]] || [[ "$version" == *..* ]] ||
  ! git check-ref-format --allow-onelevel "$version" >/dev/null 2>&1; then
  fail 2 "input \"version\": ${version@Q} is not a git ref name or commit SHA; $valid"
fi
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || fail 2 "check-deploy-version: $repo is not a git repository"

# The default branch as fetched from the remote (a local branch of that name only without a remote).
base=''
for candidate in "refs/remotes/origin/$default_branch" "refs/heads/$default_branch"; do
  if git -C "$repo" rev-parse -q --verify "$candidate^{commit}" >/dev/null; then
    base=$candidate
    break
  fi
done
[ -n "$base" ] || fail 2 "check-deploy-version: default branch ${default_branch@Q} not found in $repo (fetch it: actions/checkout with fetch-depth: 0)"

resolve() { git -C "$repo" rev-parse -q --verify "$1^{commit}" 2>/dev/null; }
commit='' kind=''
tag=${version#refs/tags/}
if commit=$(resolve "refs/tags/$tag"); then
  kind=tag
else
  for ref in "refs/remotes/origin/${version#refs/heads/}" "refs/heads/${version#refs/heads/}" "$version"; do
    if [[ "$ref" == refs/* ]] && ! git -C "$repo" show-ref -q --verify "$ref"; then continue; fi
    if commit=$(resolve "$ref"); then break; fi
  done
  if [ -z "$commit" ] && [ "$allow" = true ] && [[ "$version" == refs/* ]]; then
    # e.g. refs/pull/123/head: only fetched when explicitly allowed.
    if git -C "$repo" fetch -q --no-tags origin "+$version:refs/guarded-rollout/candidate" 2>/dev/null; then
      commit=$(resolve refs/guarded-rollout/candidate || true)
    fi
  fi
  [ -n "$commit" ] || fail 1 "input \"version\": ${version@Q} does not name a tag or commit in this repository; $valid"
  if git -C "$repo" merge-base --is-ancestor "$commit" "$base"; then
    kind=commit
  elif [ "$allow" = true ]; then
    kind=unreachable
    echo "::warning::deploying ${version@Q} ($commit), which is not reachable from ${default_branch}: allowed by allow-unreachable-version"
  else
    fail 1 "input \"version\": ${version@Q} ($commit) is neither a tag nor reachable from the default branch ${default_branch@Q}; $valid. To deploy it anyway set allow-unreachable-version: true."
  fi
fi

if [ "$checkout" = true ]; then
  git -C "$repo" -c advice.detachedHead=false checkout -q --detach "$commit"
fi
echo "commit=$commit"
echo "kind=$kind"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "commit=$commit"; echo "kind=$kind"; } >>"$GITHUB_OUTPUT"
fi
