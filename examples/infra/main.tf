# The example infrastructure module greenlight applies for a deployment: it runs the example
# service as a local process on a port derived from the host name. Built-in resources only
# (terraform_data, local-exec), so no provider is downloaded. Works with OpenTofu and Terraform.

terraform {
  required_version = ">= 1.5"
}

variable "service" {
  type = string
}

variable "app_version" {
  type = string
}

variable "target" {
  type = string
}

variable "hostname" {
  type = string
}

variable "release_id" {
  type = string
}

# The artifact the deployment runs (greenlight passes them to a module that declares them): a
# file:// URI of a program, and the sha256 of its bytes, checked before it starts. Empty: the
# example service itself.
variable "artifact_uri" {
  type    = string
  default = ""
}

variable "artifact_digest" {
  type    = string
  default = ""
}

locals {
  # A stable port per host name, in 20000–29999: below the range the system hands out to other
  # programs' own ports (32768 and up on Linux), so a port one of them holds never collides.
  port       = 20000 + parseint(substr(sha256(var.hostname), 0, 4), 16) % 10000
  state_file = "${abspath(path.root)}/instance.json"
}

resource "terraform_data" "instance" {
  input = {
    service    = var.service
    version    = var.app_version
    target     = var.target
    hostname   = var.hostname
    port       = local.port
    state_file = local.state_file
    scripts    = abspath(path.module)
    artifact   = var.artifact_digest
  }

  provisioner "local-exec" {
    command = "node '${abspath(path.module)}/start.js'"
    environment = {
      SERVICE         = var.service
      VERSION         = var.app_version
      PORT            = tostring(local.port)
      STATE_FILE      = local.state_file
      ARTIFACT_URI    = var.artifact_uri
      ARTIFACT_DIGEST = var.artifact_digest
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "node '${self.input.scripts}/stop.js'"
    environment = {
      STATE_FILE = self.input.state_file
    }
  }
}

output "endpoint" {
  value = "http://127.0.0.1:${local.port}"
}

output "release_id" {
  value = var.release_id
}
