"""Plan: desired resources (from the lab) × state (what was applied) × facts (what is live) → Plan.

`make_plan` in `homelab.plan.planner` is the entry point; `homelab.plan.model.Plan` is the data.
"""
