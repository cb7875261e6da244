"""What ``[model]``, ``[training]`` and ``[distributed]`` may hold: every key, its default, what it
means, and the checks a value must pass (each problem named, with a fix). ``config.toml``, ``jaxdqn
create`` and ``DQNTrainer(**hyperparams)`` all validate through here.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

from jaxdqn.core.settings import DEFAULTS as ALGORITHM
from jaxdqn.device import CHOICES as DEVICE_CHOICES
from jaxdqn.errors import Problem, is_int, unknown_keys
from jaxdqn.games.encoding import UNKNOWN_STRATEGIES

# [model]: the built-in network's hidden layers, or a flax module of your own ("package.module:attribute").
MODEL_DEFAULTS = {"hidden_sizes": [128, 64], "network": None, "dueling": False}

# Every [training] key, its default and one line on what it means. The first block
# mirrors the reference trainer exactly; the second is jaxdqn's.
TRAINING_KEYS: dict[str, tuple[Any, str]] = {
    "learning_rate": (ALGORITHM["learning_rate"], "Adam step size"),
    "learning_rate_decay": (ALGORITHM["learning_rate_decay"],
                            "learning rate multiplier after each episode that trained"),
    "gamma": (ALGORITHM["gamma"], "discount: how much future rewards count against immediate ones"),
    "epsilon": (ALGORITHM["epsilon"], "initial probability of a random action"),
    "epsilon_decay": (ALGORITHM["epsilon_decay"], "epsilon multiplier after each episode"),
    "epsilon_min": (ALGORITHM["epsilon_min"], "epsilon never decays below this"),
    "batch_size": (ALGORITHM["batch_size"], "transitions per gradient step"),
    "memory_capacity": (ALGORITHM["memory_capacity"], "transitions the replay buffer holds; the oldest are dropped"),
    "target_update_freq": (ALGORITHM["target_update_freq"],
                           "game steps between copies of the network into the target network"),
    "train_every": (ALGORITHM["train_every"], "game steps per gradient step"),
    "training_episodes": (20_000, "train until this many episodes have been played"),
    "prioritize_experiences": (ALGORITHM["prioritize_experiences"],
                               "prioritized replay (alpha 0.6, beta 0.4) instead of uniform"),
    "exploration_turns": (200, "random turns played to discover the character set when it is not given"),
    "unknown_character_strategy": ("ignore", "a board character missing from character_set: 'ignore' or 'error'"),
    "max_turns_per_episode": (ALGORITHM["max_turns_per_episode"], "an episode is cut off after this many turns"),
    # jaxdqn additions
    "seed": (None, "same seed, same machine: same rewards; absent: drawn and written to training.log"),
    "double_dqn": (ALGORITHM["double_dqn"], "Double DQN targets (the online network picks the next action)"),
    "n_step": (ALGORITHM["n_step"],
               "rewards each target sums before it bootstraps (n-step returns); 1 = the reference"),
    "huber_delta": (ALGORITHM["huber_delta"],
                    "TD error where the loss turns from quadratic to linear (Huber); 1 = the reference"),
    "max_grad_norm": (ALGORITHM["max_grad_norm"],
                      "gradients are scaled down to this global norm before Adam; 10 = the reference"),
    "device": ("auto", "auto (metal, then cuda, then cpu), cpu, cuda or metal; $JAXDQN_DEVICE overrides"),
    "save_replay_buffer": (False, "also checkpoint the replay buffer, so a resumed run continues exactly"),
    "tensorboard": (False, "also write TensorBoard event files to RUN_DIR/tensorboard (needs tensorboardX)"),
    "keep_checkpoints": (5, "how many of the newest checkpoints to keep"),
    "checkpoint_every": (100, "episodes between checkpoints (and lines in training.log)"),
    "num_envs": (ALGORITHM["num_envs"],
                 "games played in lockstep with one batched action choice per step; 1 = the reference"),
    "num_seeds": (1, "independent agents trained in lockstep in one program, one seed each (JAX games only)"),
}
TRAINING_DEFAULTS = {k: v for k, (v, _) in TRAINING_KEYS.items()}
MAX_N_STEP = 100

# [sweep]: lists of values for the shape-free hyperparameters (jaxdqn.core.hyperparameters.Hyperparameters, whose
# fields these are); every combination trains, num_seeds agents each, in one compiled program (JAX games only).
SWEEP_KEYS = ("learning_rate", "learning_rate_decay", "gamma", "epsilon", "epsilon_decay", "epsilon_min",
              "target_update_freq", "huber_delta", "max_grad_norm")

# [distributed]: more devices and machines for the compiled loop (JAX games only).
DISTRIBUTED_KEYS: dict[str, tuple[Any, str]] = {
    "devices": (1, 'devices to train on, across every process: a number, or "all"'),
    "data_parallel": (1, "devices each agent is split over (its games, replay and batch); 1: none"),
    "coordinator": (None, '"host:port" of process 0 for training on several machines, or "slurm"'),
    "num_processes": (None, "how many processes (one per machine) take part; with coordinator"),
    "timeout": (300, "seconds a process waits for the others (to join, to agree on the run, at each checkpoint) "
                     "before it stops with a message; a process silent for this long (100 s at most) counts as "
                     "stopped"),
}
DISTRIBUTED_DEFAULTS = {k: v for k, (v, _) in DISTRIBUTED_KEYS.items()}

def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def validate_training(training: dict) -> list[Problem]:
    problems: list[Problem] = []

    def bad(key, what, why, fix):
        problems.append(Problem(f"training.{key}", what, why, fix))

    problems.extend(unknown_keys(training, TRAINING_KEYS, "training", "training setting"))
    hp = {**TRAINING_DEFAULTS, **training}
    if not (_num(hp["learning_rate"]) and hp["learning_rate"] > 0):
        bad("learning_rate", f"{hp['learning_rate']!r} is not a positive number",
            "it scales every weight update; typical values are 1e-5 to 1e-2", "learning_rate = 0.0001")
    for key in ("huber_delta", "max_grad_norm"):
        if not (_num(hp[key]) and hp[key] > 0):
            bad(key, f"{hp[key]!r} is not a positive number", TRAINING_KEYS[key][1],
                f"{key} = {TRAINING_DEFAULTS[key]}")
    for key in ("learning_rate_decay", "gamma", "epsilon_decay"):
        if not (_num(hp[key]) and 0 < hp[key] <= 1):
            bad(key, f"{hp[key]!r} is not in (0, 1]", TRAINING_KEYS[key][1], f"{key} = {TRAINING_DEFAULTS[key]}")
    for key in ("epsilon", "epsilon_min"):
        if not (_num(hp[key]) and 0 <= hp[key] <= 1):
            bad(key, f"{hp[key]!r} is not a probability in [0, 1]", TRAINING_KEYS[key][1],
                f"{key} = {TRAINING_DEFAULTS[key]}")
    if (_num(hp["epsilon"]) and _num(hp["epsilon_min"]) and 0 <= hp["epsilon"] <= 1
            and hp["epsilon_min"] > hp["epsilon"]):
        bad("epsilon_min", f"{hp['epsilon_min']} is above epsilon = {hp['epsilon']}",
            "epsilon decays towards epsilon_min, so the floor cannot be above the start",
            "epsilon = 1.0 and epsilon_min = 0.05")
    for key in ("batch_size", "memory_capacity", "target_update_freq", "train_every", "training_episodes",
                "max_turns_per_episode", "keep_checkpoints", "checkpoint_every", "num_envs", "num_seeds", "n_step"):
        if not (is_int(hp[key]) and hp[key] > 0):
            bad(key, f"{hp[key]!r} is not a positive whole number", TRAINING_KEYS[key][1],
                f"{key} = {TRAINING_DEFAULTS[key]}")
    if not (is_int(hp["exploration_turns"]) and hp["exploration_turns"] >= 0):
        bad("exploration_turns", f"{hp['exploration_turns']!r} is not a whole number >= 0",
            TRAINING_KEYS["exploration_turns"][1], "exploration_turns = 200")
    for key in ("prioritize_experiences", "double_dqn", "save_replay_buffer", "tensorboard"):
        if not isinstance(hp[key], bool):
            bad(key, f"{hp[key]!r} is not true or false", TRAINING_KEYS[key][1],
                f"{key} = {str(TRAINING_DEFAULTS[key]).lower()}")
    if hp["unknown_character_strategy"] not in UNKNOWN_STRATEGIES:
        bad("unknown_character_strategy", f"{hp['unknown_character_strategy']!r} is not 'ignore' or 'error'",
            TRAINING_KEYS["unknown_character_strategy"][1], 'unknown_character_strategy = "ignore"')
    if hp["seed"] is not None and not (is_int(hp["seed"]) and 0 <= hp["seed"] < 2**31):
        bad("seed", f"{hp['seed']!r} is not a whole number from 0 to {2**31 - 1:,}",
            "it seeds every random choice of the run, and the compiled loop keeps it in 32 bits", "seed = 1")
    if hp["device"] not in DEVICE_CHOICES:
        bad("device", f"{hp['device']!r} is not one of {', '.join(DEVICE_CHOICES)}",
            TRAINING_KEYS["device"][1], 'device = "auto"')
    if is_int(hp["n_step"]) and hp["n_step"] > MAX_N_STEP:
        bad("n_step", f"{hp['n_step']} is more than {MAX_N_STEP}",
            "every sampled transition reads n_step of the transitions after it; returns over so many steps are "
            "dominated by the discount anyway", "n_step = 3")
    if is_int(hp["batch_size"]) and is_int(hp["memory_capacity"]) and 0 < hp["memory_capacity"] < hp["batch_size"]:
        bad("batch_size", f"{hp['batch_size']} is larger than memory_capacity = {hp['memory_capacity']}",
            "each gradient step samples batch_size transitions from the replay buffer",
            f"memory_capacity = {max(100 * hp['batch_size'], TRAINING_DEFAULTS['memory_capacity'])}")
    return problems


def validate_sweep(sweep: dict, training: dict) -> list[Problem]:
    """Each [sweep] key a shape-free [training] key, not set there too, with a list of distinct valid values."""
    problems = []
    for key, values in sweep.items():
        field = f"sweep.{key}"
        if key not in SWEEP_KEYS:
            shaping = key in TRAINING_KEYS
            problems.append(Problem(
                field, "cannot be swept" if shaping else "is not a known training setting",
                (f"{key} fixes the program's array shapes or its loop, which every agent of one program shares"
                 if shaping else "a misspelt key would be silently ignored") + f"; a sweep may vary "
                f"{', '.join(SWEEP_KEYS)}",
                f"set {key} in [training], and run one directory per value" if shaping else "remove or rename it"))
            continue
        if not (isinstance(values, list) and values):
            problems.append(Problem(field, f"{values!r} is not a list of values", "each combination of the lists "
                                    "trains in the same program", f"{key} = [{TRAINING_DEFAULTS[key]}, ...]"))
            continue
        if key in training:
            problems.append(Problem(f"training.{key}", "is swept in [sweep] too",
                                    "a swept key takes its values from [sweep], one per configuration",
                                    f"remove {key} from [training]"))
        if len(set(map(repr, values))) < len(values):
            problems.append(Problem(field, f"{values!r} lists a value twice", "two equal configurations train the "
                                    "same agents twice (for more agents per configuration raise num_seeds)",
                                    "list each value once"))
        for value in values:
            for problem in validate_training({**training, key: value}):
                if problem.field == f"training.{key}":
                    problems.append(Problem(field, f"value {problem.what}", problem.why,
                                            problem.fix.replace(f"{key} = ", f"{key} = [") + ", ...]"
                                            if problem.fix.startswith(f"{key} = ") else problem.fix))
    if sweep and not problems:  # each value fits alone; rules between keys (epsilon_min <= epsilon) must hold
        known = {(p.field, p.what) for p in validate_training(training)}  # [training]'s own, reported already
        for configuration in sweep_configurations(sweep):
            for problem in validate_training({**training, **configuration}):
                if (problem.field, problem.what) in known or problem.field.split(".")[-1] not in sweep:
                    continue
                problems.append(Problem(f"sweep ({configuration_label(configuration)})", problem.what, problem.why,
                                        "change the lists so that no combination breaks the rule"))
            if problems:
                break
    return problems


def sweep_configurations(sweep: dict) -> list[dict]:
    """Every combination of a [sweep]'s lists, in order (the first key varies slowest); ``[{}]`` without one."""
    return [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())]


def configuration_label(configuration: dict) -> str:
    """A configuration as "key=value key=value" (no commas: it is a metrics.csv field)."""
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in configuration.items())


def validate_model(model: dict) -> list[Problem]:
    problems = unknown_keys(model, MODEL_DEFAULTS, "model", "model setting")
    sizes = model.get("hidden_sizes", MODEL_DEFAULTS["hidden_sizes"])
    if not (isinstance(sizes, list | tuple) and sizes and all(is_int(s) and s > 0 for s in sizes)):
        problems.append(Problem("model.hidden_sizes", f"{sizes!r} is not a non-empty list of positive integers",
                                "one number per hidden layer: its count of units", "hidden_sizes = [128, 64]"))
    if not isinstance(model.get("dueling", False), bool):
        problems.append(Problem("model.dueling", f"{model['dueling']!r} is not true or false",
                                "it switches the built-in network's last layer to a dueling head", "dueling = true"))
    if model.get("dueling") and model.get("network") is not None:
        problems.append(Problem("model.dueling", "is set with a network of your own",
                                "the dueling head is the built-in network's; your module has its own head",
                                "remove dueling, or give your module a dueling head"))
    network = model.get("network")
    if isinstance(network, str):
        if network.count(":") != 1 or not all(network.split(":")):
            problems.append(Problem("model.network", f"{network!r} is not of the form \"package.module:attribute\"",
                                    "it names a flax module (or a function of the NetworkSpec that returns one)",
                                    'network = "my_networks:dueling"  (or remove it for the built-in network)'))
    elif network is not None and not callable(network):
        problems.append(Problem("model.network", f"{network!r} is not a flax module",
                                "it maps a batch of observations to Q-values", "pass a flax.linen.Module"))
    return problems


def validate_distributed(dist: dict, training: dict) -> list[Problem]:
    problems = unknown_keys(dist, DISTRIBUTED_KEYS, "distributed", "distributed setting")
    d = {**DISTRIBUTED_DEFAULTS, **dist}

    def bad(key, what, why, fix):
        problems.append(Problem(f"distributed.{key}", what, why, fix))

    devices, data = d["devices"], d["data_parallel"]
    if not (devices == "all" or (is_int(devices) and devices > 0)):
        bad("devices", f"{devices!r} is not a positive whole number or \"all\"", DISTRIBUTED_KEYS["devices"][1],
            'devices = "all"')
    if not (is_int(data) and data > 0):
        bad("data_parallel", f"{data!r} is not a positive whole number", DISTRIBUTED_KEYS["data_parallel"][1],
            "data_parallel = 1")
    elif is_int(devices) and devices % data:
        bad("data_parallel", f"{data} does not divide devices = {devices}",
            "the devices form groups of data_parallel, one group per share of the agents",
            f"devices = {data * max(1, devices // data)}")
    if is_int(data) and data > 1:
        hp = {**TRAINING_DEFAULTS, **training}
        for key in ("num_envs", "batch_size", "memory_capacity"):
            if is_int(hp[key]) and hp[key] % data:
                problems.append(Problem(f"training.{key}", f"{hp[key]} is not a multiple of data_parallel = {data}",
                                        "each of an agent's devices holds an equal share of it",
                                        f"{key} = {data * max(1, hp[key] // data)}"))
    if not (_num(d["timeout"]) and d["timeout"] > 0):
        bad("timeout", f"{d['timeout']!r} is not a positive number of seconds", DISTRIBUTED_KEYS["timeout"][1],
            "timeout = 300")
    coordinator, processes = d["coordinator"], d["num_processes"]
    if coordinator is not None and not (isinstance(coordinator, str) and (coordinator == "slurm"
                                                                          or coordinator.count(":") == 1)):
        bad("coordinator", f"{coordinator!r} is not \"host:port\" or \"slurm\"", DISTRIBUTED_KEYS["coordinator"][1],
            'coordinator = "10.0.0.1:1234"')
    if coordinator not in (None, "slurm") and not (is_int(processes) and processes > 0):
        bad("num_processes", f"is {processes!r}; a coordinator needs the number of processes",
            "every process waits at the coordinator until all of them have joined", "num_processes = 2")
    return problems
