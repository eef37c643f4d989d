// A batch of dissected packets, handed to JavaScript in one crossing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct PacketBatch {
  // Where parts of a packet's NDJSON line start in `text`, in the order
  // capture_dissector.cc writes them; src/engine/engine.ts (Span) reads them
  // by the same numbers. The text is pure ASCII.
  enum Span {
    kHead,       // the line itself, {"@timestamp":...; it ends where the next packet's starts
    kTimestamp,  // the @timestamp value, ISO-8601 UTC with nanoseconds; it ends at the next '"'
    kLayers,     // the layers object; it ends where kTail starts
    kTail,       // ,"protocol":..., the protocols, the ECS fields, } and a newline
    kProtocol,   // the highest protocol's name (inside the tail); it ends at the next '"'
    kSpansPerPacket
  };
  enum Meta { kFrameNumber, kSeconds, kNanoseconds, kCapturedLength, kOriginalLength, kInterfaceId, kMetaPerPacket };

  // The packets' document lines, back to back.
  std::string text;
  // kSpansPerPacket offsets per packet (the addon adds the text's length
  // after the last packet's, for JavaScript).
  std::vector<uint32_t> offsets;
  // kMetaPerPacket numbers per packet, see Meta.
  std::vector<double> meta;
  uint32_t count = 0;
  // Fields written for the first time in this batch (LayerWriter::take_new_fields).
  std::string new_fields;
};
