// The check macro of the native test programs: a failed CHECK prints where and why and counts
// in rmsprop::testing::failures; the program's exit status reports the count.
#pragma once
#include <cstdio>

namespace rmsprop::testing {
inline int failures = 0;

// Prints the summary line and returns the exit status.
inline int summary(const char* passed) {
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("%s\n", passed);
  return 0;
}
}  // namespace rmsprop::testing

#define CHECK(condition, ...)                                   \
  do {                                                          \
    if (!(condition)) {                                         \
      ++::rmsprop::testing::failures;                           \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
    }                                                           \
  } while (0)
