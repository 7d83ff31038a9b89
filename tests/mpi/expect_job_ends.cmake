# tests/mpi/expect_job_ends.cmake - runs an MPI job that must end with a failure status, in time.
# Part of concur. SPDX-License-Identifier: MIT (see LICENSE).
# Usage: cmake -DCOMMAND="mpirun;...;program" -DSECONDS=60 -P expect_job_ends.cmake
# Passes if the job served a first call ("worker answers: 2"), then ended within SECONDS with a
# non-zero status, and never printed "survived".
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out
                ERROR_VARIABLE err TIMEOUT ${SECONDS})
message("${out}")
message("${err}")
if(status MATCHES "timeout")
  message(FATAL_ERROR "the job did not end within ${SECONDS} s: a rank waits for a dead one")
endif()
if(status EQUAL 0)
  message(FATAL_ERROR "the job ended with status 0 although a rank died")
endif()
if(NOT out MATCHES "worker answers: 2")
  message(FATAL_ERROR "the job did not get as far as a first call (did it start at all?)")
endif()
if(out MATCHES "survived")
  message(FATAL_ERROR "the client went on after its worker died")
endif()
message(STATUS "the job ended with status '${status}', as it should once a rank has died")
