{
  description = "agent-orchestrator: run a team of AI coding agents in tmux and keep it working";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
        python = pkgs.python311;
        pythonEnv = python.withPackages (ps: with ps; [
          typer
          rich
          libtmux
          tomli-w
          watchfiles
          orjson
          pytest
          pytest-xdist
          hypothesis
        ]);
      in
      {
        # `nix develop`: Python 3.11 with the runtime and test dependencies, tmux, git,
        # Node.js (for the Claude Code / Codex CLIs the rehearsals install into .cache/npm) and
        # OpenSSH (ssh to [[host]]s; its sshd is host `b` of the multi-host tests).
        devShells.default = pkgs.mkShell {
          packages = [
            pythonEnv
            pkgs.tmux
            pkgs.git
            pkgs.nodejs_20
            pkgs.openssh
          ];
          shellHook = ''
            export PYTHONPATH="$PWD''${PYTHONPATH:+:$PYTHONPATH}"
            echo "agent-orchestrator dev shell: python3 agents.py --help, ./tests/run.sh, ./smoke.sh"
          '';
        };
      });
}
