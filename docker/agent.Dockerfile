# The production agent image: the four coding-agent CLIs bosun has adapters for, plus git and
# common build tools, run as an unprivileged user. bosun mounts the checkout at /workspace and
# runs the CLI with a read-only root, so nothing here needs to be writable at run time.
#
#   docker build -f docker/agent.Dockerfile -t bosun-agent:latest .
FROM node:22-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates ripgrep build-essential python3 \
 && rm -rf /var/lib/apt/lists/*

# Versions the adapters were written against. Claude Code and Codex at the versions bosun's
# tests run for real, in its sandbox and pipeline (tests/real_cli.rs, built from PyPI where npm
# is out of reach); Gemini CLI and OpenCode at the versions of their recorded streams.
RUN npm install -g --omit=dev \
      @anthropic-ai/claude-code@2.1.332 \
      @openai/codex@0.147.0 \
      @google/gemini-cli@0.61.0 \
      opencode-ai@1.18.33 \
 && npm cache clean --force

# bosun runs containers as its own uid, or 1000 when it runs as root. The base image's `node`
# user already has uid 1000, so it goes first.
RUN userdel --remove node \
 && useradd --uid 1000 --create-home --home-dir /home/bosun bosun
ENV HOME=/home/bosun \
    IS_SANDBOX=1 \
    OPENCODE_DISABLE_AUTOUPDATE=1 \
    OPENCODE_DISABLE_SHARE=1
USER 1000:1000
WORKDIR /workspace
