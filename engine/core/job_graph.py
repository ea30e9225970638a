"""The graph of all jobs: what no single job shows on its own (a name used twice, a
dependency no trigger creates, a dependency cycle).

Checked once every job is known: by the writer over the new jobs and those already in
the triggers file. One job's fields on their own are `engine.core.validate`'s.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.jobs import Job


def graph_problems(jobs: list[Job], existing: list[str]) -> list[tuple[Job, str]]:
    """Problems that need every job: duplicate names, unknown dependencies, cycles.

    `existing` names the jobs already in the triggers file, which new jobs may depend on.
    """
    problems: list[tuple[Job, str]] = []
    known = set(existing)
    first: dict[str, Job] = {}
    for job in jobs:
        if job.name in known and job.name not in first:
            problems.append((job, f'job "{job.name}" is already in the triggers file'))
        elif job.name in first:
            where = first[job.name].location
            problems.append((job, f'job "{job.name}" is triggered twice (first at {where})'))
        first.setdefault(job.name, job)
    names = known | set(first)
    for job in jobs:
        for dep in job.depends_on:
            if dep not in names:
                problems.append(
                    (job, f'job "{job.name}" depends on "{dep}", which no trigger creates')
                )
    for cycle in find_cycles(jobs):
        owner = first[cycle[0]]
        path = " -> ".join([*cycle, cycle[0]])
        problems.append((owner, f"dependency cycle: {path}"))
    return problems


def find_cycles(jobs: list[Job]) -> list[list[str]]:
    """Each dependency cycle once, as the list of job names on it."""
    graph: dict[str, list[str]] = {}
    for job in jobs:
        graph.setdefault(job.name, job.depends_on)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []
    for root in graph:
        if state.get(root):
            continue
        path: list[str] = []
        iters = [(root, iter(graph[root]))]
        state[root] = 1
        path.append(root)
        while iters:
            node, children = iters[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                path.pop()
                iters.pop()
                continue
            if child not in graph:
                continue
            if state.get(child) == 1:
                cycles.append(path[path.index(child):])
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                iters.append((child, iter(graph[child])))
    return cycles
