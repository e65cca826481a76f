// GET /orgs/{org}/teams/{team_slug}/members over PullsState's teams: 404 for a team that does not
// exist (as GitHub answers, also when the token may not see it), 403 without Members: read.
import { paginate, type FakeGitHub } from '../server.js';
import { exampleResponse } from '../spec.js';
import type { PullsState } from './pulls.js';

type Json = Record<string, unknown>;

export function installTeamMemberRoutes(fake: FakeGitHub, state: PullsState): void {
  fake.on('teams/list-members-in-org', (req, f) => {
    if (state.teamAccess === 'forbidden')
      return {
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/teams/members#list-team-members',
        },
      };
    const members = state.teams.get(`${req.params.org}/${req.params.team_slug}`.toLowerCase());
    if (!members)
      return {
        status: 404,
        body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
      };
    const template = (exampleResponse('teams/list-members-in-org', 200) as Json[])[0]!;
    let id = 1;
    const users = [...members].sort().map((login) => ({ ...structuredClone(template), login, id: id++ }));
    return paginate(req, f, users);
  });
}
