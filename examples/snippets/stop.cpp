// Stopping running tasks: a task whose first parameter is a std::stop_token gets the token of
// its future; request_stop() asks it to stop. A process-pool task that ignores it is killed.
#include <concur/concur.hpp>

#include <chrono>
#include <cstdio>
#include <stop_token>
#include <thread>

// Plain functions: they can run in a worker process as well as on a thread.
long count_until_stopped(std::stop_token token, long step) {
  long n = 0;
  while (!token.stop_requested()) n += step;
  return n;
}

int stubborn(std::stop_token /*ignored*/) {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

int main() {
  concur::ProcessPoolExecutor workers(concur::ProcessPoolOptions{
      .max_workers = 1, .stop_grace_period = std::chrono::milliseconds(200)});
  concur::ThreadPoolExecutor threads(2);

  concur::Future<long> counting = threads.submit(count_until_stopped, 1L);  // token goes first
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  counting.request_stop();  // true: the task takes a token (pending or running alike)
  std::printf("counted to %ld, then stopped\n", counting.result());

  concur::Future<int> ignoring = workers.submit(stubborn);
  ignoring.request_stop();
  try {
    ignoring.result();
  } catch (const concur::CancelledError&) {  // 200 ms later: its worker was killed, replaced
    std::printf("the stubborn task was killed\n");
  }
  return ignoring.state() == concur::FutureState::finished ? 0 : 1;
}
