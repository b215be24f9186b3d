"""The review inbox web app (`riskbrief serve`): see `agent.web.app`."""
