// GET /repos/{owner}/{repo}/pulls over PullsState (state=open|closed|all; every seeded PR is open),
// for finding a fork's PR by its head commit.
import { paginate, type FakeGitHub } from '../server.js';
import type { PullsState } from './pulls.js';

type Json = Record<string, unknown>;

export function installPullListRoutes(fake: FakeGitHub, state: PullsState): void {
  fake.on('pulls/list', (req, f) => {
    const wanted = req.query.get('state') ?? 'open';
    const pulls = wanted === 'closed' ? [] : [...state.pulls.values()];
    // The list's items are "pull-request-simple": the full PR minus fields the list omits.
    const simple = pulls.map((p) => {
      const copy: Json = { ...p };
      for (const key of [
        'merged',
        'mergeable',
        'rebaseable',
        'mergeable_state',
        'merged_by',
        'comments',
        'review_comments',
        'maintainer_can_modify',
        'commits',
        'additions',
        'deletions',
        'changed_files',
      ])
        delete copy[key];
      return copy;
    });
    return paginate(req, f, simple);
  });
}
