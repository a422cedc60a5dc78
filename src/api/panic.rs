//! A last line of defence: a handler that panics answers 500 with a JSON body
//! instead of dropping the connection, and the worker keeps serving.

use super::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use std::panic::AssertUnwindSafe;

/// Middleware turning panics into `500 ServerError` responses.
pub struct CatchPanic;

impl<S, B> Transform<S, ServiceRequest> for CatchPanic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = CatchPanicService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CatchPanicService {
            service: std::rc::Rc::new(service),
        }))
    }
}

/// The service wrapped by [`CatchPanic`].
pub struct CatchPanicService<S> {
    service: std::rc::Rc<S>,
}

impl<S, B> Service<ServiceRequest> for CatchPanicService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The request cannot be kept aside (routing needs it unshared): on a
        // panic the error itself becomes the response, through ApiError.
        let path = req.path().to_string();
        let service = self.service.clone();
        async move {
            match AssertUnwindSafe(service.call(req)).catch_unwind().await {
                Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown".into());
                    tracing::error!(%path, panic = %what, "a handler panicked");
                    Err(ApiError::internal(
                        "the server hit an internal error while answering; it has been logged",
                    )
                    .into())
                }
            }
        }
        .boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::dev::Service;
    use actix_web::{App, HttpResponse, test, web};

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_json() {
        let app = test::init_service(
            App::new()
                .wrap(CatchPanic)
                .route(
                    "/boom",
                    web::get().to(|| async {
                        if std::hint::black_box(true) {
                            panic!("boom");
                        }
                        HttpResponse::Ok().finish()
                    }),
                )
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().body("fine") }),
                ),
        )
        .await;
        // The server turns a service error into its response (as here).
        let Err(err) = app
            .call(test::TestRequest::get().uri("/boom").to_request())
            .await
        else {
            panic!("a panic should become an error");
        };
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "ServerError");
        let res = test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(res.status(), 200);
    }
}
