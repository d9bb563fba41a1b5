"""Apply: the stage after plan. Executes a (fresh) plan through the engines, in dependency order, and
records every success in state the moment its engine returns it (`run.py`); a session ties a lab to its
state and engines (`session.py`)."""

from homelab.apply.run import ApplyReport, Outcome, Progress, apply_plan
from homelab.apply.session import Session, StalePlanError, check_fresh, open_session, state_dir_for

__all__ = ["ApplyReport", "Outcome", "Progress", "Session", "StalePlanError", "apply_plan", "check_fresh",
           "open_session", "state_dir_for"]
