#pragma once
// A client channel whose every call carries `authorization: Bearer <token>`: ernctl, workers and
// tests set the token once, where the channel is made, instead of on each call.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace ern::auth {

// An empty token makes a plain channel. A `dns:///NAME:PORT` target balances calls round_robin over
// every address the name resolves to.
std::shared_ptr<grpc::Channel> channel_with_token(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& token);

// A channel into `server` in this process (no socket, no TLS to set up), with the same token
// header: how a coordinator's embedded workers reach it whatever its transport.
std::shared_ptr<grpc::Channel> in_process_channel_with_token(
    grpc::Server& server, const grpc::ChannelArguments& arguments, const std::string& token);

}  // namespace ern::auth
