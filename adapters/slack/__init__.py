"""The Slack adapter: slack-bolt in Socket Mode or over HTTP, translating to and from the core."""
