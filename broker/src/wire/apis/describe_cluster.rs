//! DescribeCluster (api 60, KIP-700): the cluster id, the controller and the unfenced
//! brokers with their listeners, for the Admin client's `describeCluster()`. Answered by
//! the front end from the metadata image, as Kafka answers it from its metadata cache.

use super::{str_bytes, Handled, RequestContext};
use bytes::Bytes;
use kafka_protocol::messages as km;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

pub fn decode(ctx: &mut RequestContext<'_>, mut body: Bytes) -> Result<Handled, String> {
    let _: DescribeClusterRequest = ctx.decode(&mut body)?;
    let info = ctx.info;
    let brokers = info
        .advertised_brokers(ctx.image)
        .map(|(id, host, port)| {
            DescribeClusterBroker::default()
                .with_broker_id(km::BrokerId(id))
                .with_host(str_bytes(host))
                .with_port(port)
        })
        .collect();
    ctx.answer(
        &DescribeClusterResponse::default()
            .with_cluster_id(str_bytes(&info.cluster_id))
            .with_controller_id(km::BrokerId(ctx.controller_id.unwrap_or(-1)))
            .with_brokers(brokers),
    )
}
