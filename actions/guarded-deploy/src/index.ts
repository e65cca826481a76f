import * as core from '@actions/core';
import { post, run } from './main.js';

// The same bundle serves `runs.main` and `runs.post`; main leaves a state flag the post step sees.
if (core.getState('isPost') === 'true') await post();
else await run();
