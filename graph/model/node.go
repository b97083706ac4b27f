package model

import "github.com/partnersupport/api/internal/domain"

// Node is a value of the GraphQL Node interface: one of the domain values its types are
// bound to (gqlgen.yml). The executor picks the type by the value's Go type.
type Node any

// ProviderRequest is a support request as the support provider reads it (R25). It is a
// type of its own, not domain.SupportRequest, so that a Node value tells the two GraphQL
// types of one request apart.
type ProviderRequest struct{ domain.SupportRequest }
