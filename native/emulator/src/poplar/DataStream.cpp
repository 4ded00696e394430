#include <poplar/DataStream.hpp>
#include <poplar/exceptions.hpp>

#include "core/GraphState.hpp"

namespace poplar {

namespace {
template <class Info> const Info &checked(const std::shared_ptr<const Info> &info, const char *what) {
  if (!info) throw poplar_error(std::string(what) + ": the handle is empty (default-constructed)");
  return *info;
}
} // namespace

DataStream::DataStream() = default;
std::string DataStream::handle() const { return checked(info_, "poplar::DataStream").handle; }
std::size_t DataStream::numElements() const { return checked(info_, "poplar::DataStream").numElements; }
Type DataStream::elementType() const { return checked(info_, "poplar::DataStream").type; }

RemoteBuffer::RemoteBuffer() = default;
std::string RemoteBuffer::handle() const { return checked(info_, "poplar::RemoteBuffer").handle; }
size_t RemoteBuffer::numElements() const { return checked(info_, "poplar::RemoteBuffer").numElements; }
size_t RemoteBuffer::getRepeats() const { return checked(info_, "poplar::RemoteBuffer").repeats; }
Type RemoteBuffer::elementType() const { return checked(info_, "poplar::RemoteBuffer").type; }

} // namespace poplar
