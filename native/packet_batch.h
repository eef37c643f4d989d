// A batch of dissected packets, handed to JavaScript in one crossing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct PacketBatch {
  // Per packet, four ASCII spans back to back in `text`: the ISO-8601 UTC
  // timestamp, the layers JSON object, the highest protocol and the flow JSON
  // array (LayerWriter::flow_json).
  std::string text;
  // kSpansPerPacket offsets per packet plus a final end offset.
  std::vector<uint32_t> offsets;
  // kMetaPerPacket numbers per packet, see the Meta enum.
  std::vector<double> meta;
  uint32_t count = 0;
  // Fields written for the first time in this batch (LayerWriter::take_new_fields).
  std::string new_fields;

  static constexpr int kSpansPerPacket = 4;
  enum Meta { kFrameNumber, kSeconds, kNanoseconds, kCapturedLength, kOriginalLength, kInterfaceId, kMetaPerPacket };

};
