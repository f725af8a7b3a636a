// The workflows the worker registers. Sandbox-safe code only (enforced by the lint rule).
export { blueGreenRelease } from './release/workflow';
export { releaseLane } from './lane';
export { janitor } from './janitor';
export { environmentLifecycle } from './environment/workflow';
export { releaseTrain } from './train/workflow';
export { deliverNotifications } from './notify';
