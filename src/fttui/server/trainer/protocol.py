"""The trainer's side of the job-folder protocol, now in ``fttui.server.jobfolder``.

Re-exported under the names it always had, for the modules that import them from here.
"""

from __future__ import annotations

from fttui.server.jobfolder import CHECKPOINTS_DIR as CHECKPOINTS_DIR
from fttui.server.jobfolder import KEEP_CHECKPOINTS as KEEP_CHECKPOINTS
from fttui.server.jobfolder import LOG_FILE as LOG_FILE
from fttui.server.jobfolder import METRICS_FILE as METRICS_FILE
from fttui.server.jobfolder import METRICS_HEADER as METRICS_HEADER
from fttui.server.jobfolder import MODEL_DIR as MODEL_DIR
from fttui.server.jobfolder import PID_FILE as PID_FILE
from fttui.server.jobfolder import RESUME_DIR as RESUME_DIR
from fttui.server.jobfolder import JobFolder as JobFolder
