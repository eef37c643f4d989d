// A batch of dissected packets, handed to JavaScript in one crossing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct PacketBatch {
  // Per packet, three ASCII spans back to back in `text`: the ISO-8601 UTC
  // timestamp, the highest protocol, and the layers JSON object.
  std::string text;
  // kSpansPerPacket offsets per packet plus a final end offset.
  std::vector<uint32_t> offsets;
  // kMetaPerPacket numbers per packet, see the Meta enum.
  std::vector<double> meta;
  uint32_t count = 0;

  static constexpr int kSpansPerPacket = 3;
  enum Meta { kFrameNumber, kSeconds, kNanoseconds, kCapturedLength, kOriginalLength, kInterfaceId, kMetaPerPacket };

  void clear() { text.clear(); offsets.clear(); meta.clear(); count = 0; }
};
