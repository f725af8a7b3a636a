// The workflows the worker registers. Sandbox-safe code only (enforced by the lint rule).
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { WorkflowDefinitionOptions } from '@temporalio/common';
import { environmentLifecycle } from './environment/workflow';
import { janitor } from './janitor';
import { releaseLane } from './lane';

export { blueGreenRelease } from './release/workflow';
export { releaseTrain } from './train/workflow';
export { deliverNotifications } from './notify';
export { environmentLifecycle, janitor, releaseLane };

// With worker versioning (GREENLIGHT_BUILD_ID), workflows that live as long as what they watch
// (an environment, a lane) or run on a schedule move to each new version at their next task,
// even where the worker pins releases to the version they started on: a pinned environment
// would stop when its version's workers are gone.
// Only a versioned worker may name a behavior: an unversioned one that did would fail every task.
// An unversioned worker's version has a build id (the bundle's checksum) but no deployment name.
const autoUpgradeWhenVersioned = (): WorkflowDefinitionOptions =>
  workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {};
setWorkflowOptions(autoUpgradeWhenVersioned, environmentLifecycle);
setWorkflowOptions(autoUpgradeWhenVersioned, releaseLane);
setWorkflowOptions(autoUpgradeWhenVersioned, janitor);
