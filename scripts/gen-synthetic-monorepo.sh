#!/usr/bin/env bash
# gen-synthetic-monorepo.sh OUT_DIR [PROJECTS] [FILES]
#
# Creates a synthetic Forge monorepo for the discovery benchmark (forge-config/benches/discovery.rs):
#   - OUT_DIR/.forge/repo.cue with four phases and two publishers;
#   - PROJECTS (default 100) projects shaped like SPEC §2.4 (steps, release triggers, an artifact,
#     a Deployment with @artifact), under area-<a>/svc-<n>/;
#   - FILES (default 10000) unrelated source files in deep folders (6 levels), with .gitignore files
#     that ignore build/ folders and *.log files (which are also created, and must be skipped).
# The output is deterministic. OUT_DIR must not exist or be empty.
set -euo pipefail

out=${1:?usage: gen-synthetic-monorepo.sh OUT_DIR [PROJECTS] [FILES]}
projects=${2:-100}
files=${3:-10000}

mkdir -p "$out/.forge"
if [ -n "$(ls -A "$out" | grep -v '^.forge$' || true)" ]; then
	echo "gen-synthetic-monorepo: $out is not empty" >&2
	exit 2
fi

cat >"$out/.forge/repo.cue" <<'CUE'
package repo

forgeVersion: "v1.0.0"
tagging: strategy: "monorepo"
phases: {
	check: {group: 1, required: true, timeout: "10m"}
	build: {group: 2, timeout: "30m"}
	test: {group: 2, timeout: "30m"}
	publish: group: 3
}
publishers: {
	docker: {type: "docker", registry: "registry.example:5000", namespace: "synthetic"}
	github: {type: "github", owner: "synthetic", repo: "mono", credentials: {provider: "env", name: "GITHUB_TOKEN"}}
}
CUE
printf 'build/\n*.log\n' >"$out/.gitignore"

for ((i = 0; i < projects; i++)); do
	name=$(printf 'svc-%03d' "$i")
	dir="$out/area-$((i % 10))/$name"
	mkdir -p "$dir/.forge" "$dir/src"
	cat >"$dir/.forge/project.cue" <<CUE
package project

name: "$name"

ci: phases: {
	check: {
		lint: {action: "script", run: "echo lint $name", priority: 10}
		fmt: {action: "script", run: "echo fmt $name"}
	}
	build: compile: {action: "earthly", target: "+build", args: ["--release"]}
	test: unit: {action: "earthly", target: "+test", timeout: "20m"}
}

release: on: [{branch: "main"}, {branch: "release/.*"}, {tag: true}]

artifacts: image: {
	type: "container"
	producer: earthly: target: "+docker"
	publishers: docker: {}
}

#Labels: {app: "$name", tier: "backend"}

deployment: resources: [{
	apiVersion: "apps/v1"
	kind:       "Deployment"
	metadata: {name: "$name", labels: #Labels}
	spec: {
		replicas: 2
		selector: matchLabels: #Labels
		template: {
			metadata: labels: #Labels
			spec: containers: [{
				name:  "$name"
				image: string @artifact("image.uri")
				ports: [{containerPort: 8080}]
			}]
		}
	}
}, {
	apiVersion: "v1"
	kind:       "Service"
	metadata: name: "$name"
	spec: ports: [{port: 80, targetPort: 8080}]
}]
CUE
	printf 'package main\n' >"$dir/src/main.go"
done

# Unrelated files: 100 deep folders of FILES/100 files each, spread over the tree, with .gitignores
# and ignored content next to them.
per=$((files / 100))
for ((d = 0; d < 100; d++)); do
	deep="$out/libs/lib-$((d % 20))/pkg-$d/internal/impl/v$((d % 3))/src"
	mkdir -p "$deep" "$deep/build"
	printf '*.tmp\n' >"$out/libs/lib-$((d % 20))/pkg-$d/.gitignore"
	for ((f = 0; f < per; f++)); do
		printf 'export const v%d = %d;\n' "$f" "$f" >"$deep/file-$f.ts"
	done
	printf 'ignored\n' >"$deep/build/out.js"
	printf 'ignored\n' >"$deep/debug.log"
	printf 'ignored\n' >"$deep/scratch.tmp"
done
echo "gen-synthetic-monorepo: $projects projects, $((per * 100)) source files in $out"
