export { decideStatus, hasOurMarks } from "./domain/desired-status.js";
export { planStatus } from "./domain/status-plan.js";
