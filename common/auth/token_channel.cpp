#include "common/auth/token_channel.h"

#include <grpcpp/support/client_interceptor.h>

#include <vector>

namespace ern::auth {
namespace {

class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string& header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token) : header_("Bearer " + token) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(header_);
  }

 private:
  const std::string header_;  // outlives the channel's interceptors: the channel owns this
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
bearer_interceptors(const std::string& token) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<BearerInterceptorFactory>(token));
  return factories;
}

std::shared_ptr<grpc::Channel> channel_with_token(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const grpc::ChannelArguments& arguments, const std::string& token) {
  grpc::ChannelArguments balanced = arguments;
  // A name that resolves to several addresses (a headless Service of serving replicas): spread
  // calls over all of them rather than pin every call to the first.
  if (target.rfind("dns:", 0) == 0) balanced.SetLoadBalancingPolicyName("round_robin");
  if (token.empty()) return grpc::CreateCustomChannel(target, credentials, balanced);
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, balanced,
                                                                 bearer_interceptors(token));
}

std::shared_ptr<grpc::Channel> in_process_channel_with_token(
    grpc::Server& server, const grpc::ChannelArguments& arguments, const std::string& token) {
  return server.experimental().InProcessChannelWithInterceptors(arguments,
                                                                bearer_interceptors(token));
}

}  // namespace ern::auth
