// The note that travels beside each record of a live worker's stream, on a
// pipe of its own (live_capture.cc writes it, capture_dissector.cc reads it).
#pragma once

#include <cstdint>

// What a worker's reader learns beside each record (host byte order): its
// capture-wide frame number, the time of the packet captured just before it
// (whichever worker took that one), for frame.time_delta, and the time of the
// capture's first packet, for frame.time_relative. So these mean what they
// mean in one process, however the packets are spread.
struct FrameNote {
  uint64_t number;
  int64_t previous_ns;  // nanoseconds since the epoch; 0 for the first packet
  int64_t first_ns;
};
static_assert(sizeof(FrameNote) == 24);
