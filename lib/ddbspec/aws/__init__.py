"""The live-account path (account, cost, sweep, Lambda) and its in-process mock."""
