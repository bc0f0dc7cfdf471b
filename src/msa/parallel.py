"""Work cut in batches and shared among the processes a launch started (msa.launch), gathered on
the main process in the batches' order.

Every process plans the same batches; each runs a contiguous block of them (Accelerate's
`split_between_processes`), so every batch holds the same posts as in one process and the
outputs do not depend on the number of processes beyond the threads each one has (fp32
convolutions on a CPU round differently with the thread count). A process no launcher started
has the whole plan and touches no process group.
"""

from __future__ import annotations

from collections.abc import Sequence


class Shares:
    """This process's share of a plan of batches, and the gathering of every share."""

    def __init__(self, state=None):
        self._state = state  # Accelerate's PartialState of a launched process, None alone

    @classmethod
    def of_this_process(cls) -> Shares:
        """The shares of the processes that launched this one, or the whole plan alone."""
        from msa import device, launch

        return cls(device.accelerate_state()) if launch.launched() else ALONE

    @property
    def processes(self) -> int:
        return self._state.num_processes if self._state else 1

    @property
    def is_main(self) -> bool:
        return self._state.is_main_process if self._state else True

    def mine(self, plan: Sequence) -> list:
        """The contiguous block of the plan this process runs (the whole plan in one process)."""
        if self.processes == 1:
            return list(plan)
        with self._state.split_between_processes(list(plan)) as share:
            return list(share)

    def gather(self, results: list) -> list | None:
        """Every process's `results` (one item per batch of its share), concatenated in the
        plan's order on the main process; None on the others."""
        if self.processes == 1:
            return results
        import torch.distributed as dist

        parts = [None] * self.processes if self.is_main else None
        dist.gather_object(results, parts, dst=0)
        return [item for part in parts for item in part] if self.is_main else None


ALONE = Shares()  # the whole plan, in this process
