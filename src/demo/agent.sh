#!/bin/sh
# bosun's demo agent: a stand-in for a coding agent, run by bosun's `command` adapter (the
# contract is at the top of src/run/agent/command.rs). It calls no model: it knows the one
# change the demo issue asks for, and reports what it does in the adapter's JSON lines, so the
# run goes through the same parser, gates, review and pull request as a real agent's.
# The prompt arrives on stdin.
prompt=$(cat)

say() { printf '%s\n' "$1"; }

# The reviewer's prompt (prompts/peer_review.md.j2) asks for a verdict, not a change.
case "$prompt" in
*"## What to do: review"*)
	say '{"type":"text","text":"Reading the diff against the issue: hello.sh now greets the crew, and check.sh still passes."}'
	say '{"type":"usage","input_tokens":0,"output_tokens":0,"cost_usd":0}'
	say '{"type":"result","ok":true,"turns":1,"message":"The change does what the issue asks and nothing else.\n\n```json\n{\"findings\": []}\n```"}'
	exit 0
	;;
esac

case "$prompt" in
*"Hello, crew!"*) ;;
*)
	say '{"type":"result","ok":false,"message":"The demo agent only knows the demo issue (make hello.sh print Hello, crew!)."}'
	exit 1
	;;
esac

say '{"type":"text","text":"The issue asks hello.sh to greet the crew instead of the world. Editing hello.sh."}'
say '{"type":"tool_call","id":"edit-1","name":"edit","input":{"file":"hello.sh","replace":"Hello, world!","with":"Hello, crew!"}}'
if ! sed -i 's/Hello, world!/Hello, crew!/' hello.sh; then
	say '{"type":"tool_result","id":"edit-1","ok":false,"output":"sed could not edit hello.sh"}'
	say '{"type":"result","ok":false,"message":"Could not edit hello.sh."}'
	exit 1
fi
say '{"type":"tool_result","id":"edit-1","ok":true,"output":"hello.sh: 1 line changed"}'
# No model was called, so nothing was spent: the usage line reports zero.
say '{"type":"usage","input_tokens":0,"output_tokens":0,"cost_usd":0}'
say '{"type":"result","ok":true,"turns":1,"message":"hello.sh now prints Hello, crew! instead of Hello, world!."}'
